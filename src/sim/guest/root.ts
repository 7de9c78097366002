// The guest's own root: what a VM's disk is to a real guest. The agent starts in new mount, UTS and
// PID namespaces and pivots into a tmpfs that holds read-only binds of the system directories, a
// minimal /etc of its own and private /tmp, /home, /root, /var and /run. The host's filesystem (the
// repo, the state dir, the kubeconfig) is unmounted before the agent runs, so nothing of it is
// reachable from a guest shell, and no host path is writable.
import { lstatSync, readlinkSync, realpathSync } from 'node:fs';
import { basename } from 'node:path';

/** Harmless host files tools need (resolver rules, protocol names, the loader cache, CA certs); copied, so the guest owns its copy. */
export const HOST_ETC = [
  'alternatives', 'protocols', 'services', 'ethertypes', 'iproute2', 'nsswitch.conf', 'ld.so.cache', 'ld.so.conf', 'ld.so.conf.d',
  'ssl/certs', 'ssl/openssl.cnf', 'localtime', 'host.conf', 'gai.conf', 'mime.types', 'inputrc', 'bash.bashrc', 'profile',
];

/** System directories bound read-only; where the host has a symlink (merged /usr), the guest gets the same symlink. */
const SYSTEM_DIRS = ['/usr', '/bin', '/sbin', '/lib', '/lib32', '/lib64', '/libx32'];

/** Device nodes bound from the host's /dev (a user namespace cannot mknod). */
const DEVICES = ['null', 'zero', 'full', 'random', 'urandom', 'tty'];

/** Where the agent's bundled script appears inside the guest. */
export const AGENT_PATH = '/opt/kvnet/guest-agent.cjs';

/** Set in the agent's environment once it runs in its own root (it then owns /etc). */
export const GUEST_ROOT_ENV = 'KVNET_GUEST_ROOT';

/** PATH of the agent and of guest sessions. */
export const GUEST_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

const q = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`;

/**
 * The shell script that builds the root at $R (a tmpfs mounted over /tmp of the new mount
 * namespace), pivots into it and runs "$@" under a small init: sh stays pid 1 of the guest's PID
 * namespace, reaps orphans (daemonized iperf3, `sleep &`), and passes SIGTERM on to the agent.
 */
export function guestRootScript(agentScript: string, opts: { sysfs?: boolean; nodePath?: string } = {}): string {
  const node = realpathSync(opts.nodePath ?? process.execPath);
  const underSystem = SYSTEM_DIRS.some((d) => node === d || node.startsWith(`${d}/`));
  const etc = HOST_ETC.filter((f) => { try { lstatSync(`/etc/${f}`); return true; } catch { return false; } });
  const lines = [
    'set -e',
    'R=/tmp',
    'mount -t tmpfs -o mode=755,size=64m guest-root "$R"',
    'cd "$R"',
    'mkdir -p etc dev/shm dev/pts proc sys tmp var/tmp var/lib var/log home root run opt/kvnet .oldroot',
    'chmod 1777 tmp var/tmp dev/shm && chmod 700 root && ln -s ../run var/run',
    ...systemDirLines(),
    // Ownership is not kept: host owners other than the sim's are unmapped in the sandbox.
    ...(etc.length ? [`(cd /etc && cp -dR --preserve=mode,timestamps --parents -t "$R/etc" ${etc.map(q).join(' ')})`] : []),
    `for n in ${DEVICES.join(' ')}; do : > "dev/$n" && mount -o bind "/dev/$n" "dev/$n"; done`,
    'ln -s /proc/self/fd dev/fd && ln -s /proc/self/fd/0 dev/stdin && ln -s /proc/self/fd/1 dev/stdout && ln -s /proc/self/fd/2 dev/stderr',
    'if mount -t devpts -o newinstance,ptmxmode=0666,mode=620 devpts dev/pts 2>/dev/null; then ln -s pts/ptmx dev/ptmx; fi',
    'mount -t proc proc proc',
    // sysfs shows the links of the mounter's netns, and only its owner may mount it.
    ...(opts.sysfs === false ? [] : ['mount -t sysfs sysfs sys']),
    'pivot_root . .oldroot',
    'cd /',
    // The two files from arbitrary host paths are bound from the old root: the new root covers $R.
    ...(underSystem ? [] : [`mkdir -p "$(dirname ${q(node)})" && : > ${q(node)} && mount -o bind,ro /.oldroot${q(node)} ${q(node)}`]),
    `: > ${AGENT_PATH} && mount -o bind,ro /.oldroot${q(agentScript)} ${AGENT_PATH}`,
    'umount -l /.oldroot && rmdir /.oldroot',
    'set +e',
    // A clean environment (nothing of the sim's), and our stdin (its config) given explicitly: a
    // background job's would be /dev/null.
    `exec 3<&0; env -i PATH=${GUEST_PATH} HOME=/root LANG=C.UTF-8 ${GUEST_ROOT_ENV}=1 ${q(node)} ${AGENT_PATH} "$@" <&3 3<&- & agent=$!`,
    'exec 3<&- </dev/null',
    'trap \'kill -TERM $agent 2>/dev/null\' TERM INT',
    // `wait` reaps every child of pid 1, orphans included, and returns early on a trapped signal.
    'code=0; while kill -0 $agent 2>/dev/null; do wait $agent; code=$?; done',
    'exit $code',
  ];
  return lines.join('\n');
}

/**
 * The system directories as the host has them, looked up when the script is made (each spawn in
 * the script costs tens of ms on a loaded machine): one `ln` for merged-/usr symlinks such as
 * bin -> usr/bin, a read-only bind per directory.
 */
function systemDirLines(): string[] {
  const same: string[] = [];
  const lines: string[] = [];
  for (const d of SYSTEM_DIRS) {
    let st;
    try { st = lstatSync(d); } catch { continue; }
    if (st.isSymbolicLink()) {
      const target = readlinkSync(d);
      if (basename(target) === basename(d) && !target.startsWith('/')) same.push(q(target));
      else lines.push(`ln -s ${q(target)} .${d}`);
    } else if (st.isDirectory()) lines.push(`mkdir .${d} && mount -o bind,ro ${d} .${d}`);
  }
  return [...(same.length ? [`ln -s ${same.join(' ')} .`] : []), ...lines];
}

/**
 * argv that starts the agent in its own root; run it inside the guest netns (the sim) or with
 * `unshare --user --map-root-user` in front (self-tests, outside the sandbox). The unshare parent
 * ignores SIGTERM; killing it (SIGKILL) delivers SIGTERM to the guest's init, which stops the agent.
 */
export function guestRootCommand(agentScript: string, agentArgs: string[], opts: { userns?: boolean; sysfs?: boolean } = {}): string[] {
  return [
    'unshare', ...(opts.userns ? ['--user', '--map-root-user'] : []), '--mount', '--uts', '--pid', '--fork', '--kill-child=SIGTERM', '--propagation', 'private',
    'sh', '-c', guestRootScript(agentScript, { sysfs: opts.sysfs }), 'kvnet-guest', ...agentArgs,
  ];
}
