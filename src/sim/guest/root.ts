// The guest's own root: what a VM's disk is to a real guest. The agent starts in new mount, UTS and
// PID namespaces and pivots into a tmpfs that holds read-only binds of the system directories, a
// minimal /etc of its own and private /tmp, /home, /root, /var and /run. The host's filesystem (the
// repo, the state dir, the kubeconfig) is unmounted before the agent runs, so nothing of it is
// reachable from a guest shell, and no host path is writable.
import { existsSync, lstatSync, readlinkSync, realpathSync } from 'node:fs';
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
    ...initLines(node),
  ];
  return lines.join('\n');
}

/**
 * The guest's init, once in its root. A clean environment (nothing of the sim's), and our stdin
 * (its config) given to the agent explicitly: a background job's would be /dev/null.
 */
function initLines(node: string): string[] {
  return [
    `exec 3<&0; env -i PATH=${GUEST_PATH} HOME=/root LANG=C.UTF-8 ${GUEST_ROOT_ENV}=1 ${q(node)} ${AGENT_PATH} "$@" <&3 3<&- & agent=$!`,
    'exec 3<&- </dev/null',
    'trap \'kill -TERM $agent 2>/dev/null\' TERM INT',
    // `wait` reaps every child of pid 1, orphans included, and returns early on a trapped signal.
    'code=0; while kill -0 $agent 2>/dev/null; do wait $agent; code=$?; done',
    'exit $code',
  ];
}

/** mount, umount2, pivot_root by architecture (asm/unistd.h), for the one-process set-up below. */
const SYSCALLS: Partial<Record<NodeJS.Architecture, [number, number, number]>> = { x64: [165, 166, 155], arm64: [40, 39, 41] };
const PERL = '/usr/bin/perl';

const pq = (s: string): string => `'${s.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;

/**
 * The same root as guestRootScript, made by one perl process (perl-base is Essential on Debian and
 * Ubuntu) calling mount(2) and pivot_root(2) itself: a loaded machine spends tens of ms per
 * `mount` process, and the shell version runs about twenty-five of them per warm guest. A bind
 * made read-only keeps the locked flags of its source (nosuid, nodev, noexec, atime), as
 * mount(8) does, or the kernel refuses the remount in a user namespace.
 */
export function guestRootPerl(agentScript: string, opts: { sysfs?: boolean; nodePath?: string } = {}): string | undefined {
  const nr = SYSCALLS[process.arch];
  if (!nr || !existsSync(PERL)) return undefined;
  const node = realpathSync(opts.nodePath ?? process.execPath);
  const underSystem = SYSTEM_DIRS.some((d) => node === d || node.startsWith(`${d}/`));
  const etc = HOST_ETC.filter((f) => { try { lstatSync(`/etc/${f}`); return true; } catch { return false; } });
  const links: [string, string][] = [];
  const dirs: string[] = [];
  for (const d of SYSTEM_DIRS) {
    let st;
    try { st = lstatSync(d); } catch { continue; }
    if (st.isSymbolicLink()) links.push([readlinkSync(d), `.${d}`]);
    else if (st.isDirectory()) dirs.push(d);
  }
  const list = (xs: string[]) => `(${xs.map(pq).join(', ')})`;
  return `use strict; use warnings;
my ($NR_MOUNT, $NR_UMOUNT2, $NR_PIVOT) = (${nr.join(', ')});
my %F = (RDONLY => 1, NOSUID => 2, NODEV => 4, NOEXEC => 8, REMOUNT => 32, NOATIME => 1024, NODIRATIME => 2048, BIND => 4096, RELATIME => 1 << 21);
sub mnt { my ($src, $dst, $type, $flags, $data) = @_;
  my @a = (defined $src ? "$src" : 0, "$dst", defined $type ? "$type" : 0, $flags, defined $data ? "$data" : 0);
  syscall($NR_MOUNT, @a) == 0 or die "kvnet-guest: mount $dst: $!\n"; }
sub locked { my ($path) = @_; my ($best, $opts) = ('', '');
  open(my $fh, '<', '/proc/self/mountinfo') or return 0;
  while (my $l = <$fh>) { my @f = split ' ', $l; my $mp = $f[4];
    if (($path eq $mp || index($path, $mp eq '/' ? '/' : "$mp/") == 0) && length($mp) >= length($best)) { ($best, $opts) = ($mp, $f[5]); } }
  my $fl = 0; for (split /,/, $opts) { $fl |= $F{uc $_} if /^(nosuid|nodev|noexec|noatime|nodiratime|relatime)$/ } return $fl; }
sub bind_ro { my ($src, $dst) = @_; mnt($src, $dst, undef, $F{BIND}, undef); mnt(undef, $dst, undef, $F{REMOUNT} | $F{BIND} | $F{RDONLY} | locked($src), undef); }
sub touch { open(my $f, '>', $_[0]) or die "kvnet-guest: $_[0]: $!\n"; close $f; }
my $R = '/tmp';
mnt('guest-root', $R, 'tmpfs', 0, 'mode=755,size=64m');
chdir $R or die "kvnet-guest: $R: $!\n";
mkdir $_ or die "kvnet-guest: mkdir $_: $!\n" for ('etc', 'dev', 'dev/shm', 'dev/pts', 'proc', 'sys', 'tmp', 'var', 'var/tmp', 'var/lib', 'var/log', 'home', 'root', 'run', 'opt', 'opt/kvnet', '.oldroot');
chmod 01777, 'tmp', 'var/tmp', 'dev/shm'; chmod 0700, 'root'; symlink '../run', 'var/run';
${links.map(([t, l]) => `symlink ${pq(t)}, ${pq(l)} or die;`).join(' ')}
for my $d ${list(dirs)} { mkdir ".$d" or die; bind_ro($d, ".$d"); }
${etc.length ? `system('sh', '-c', 'cd /etc && exec cp -dR --preserve=mode,timestamps --parents -t "$0/etc" "$@"', $R, ${etc.map(pq).join(', ')}) == 0 or die "kvnet-guest: copying /etc files failed\n";` : ''}
for my $n ${list(DEVICES)} { touch("dev/$n"); mnt("/dev/$n", "dev/$n", undef, $F{BIND}, undef); }
symlink '/proc/self/fd', 'dev/fd'; symlink '/proc/self/fd/0', 'dev/stdin'; symlink '/proc/self/fd/1', 'dev/stdout'; symlink '/proc/self/fd/2', 'dev/stderr';
if (eval { mnt('devpts', 'dev/pts', 'devpts', 0, 'newinstance,ptmxmode=0666,mode=620'); 1 }) { symlink 'pts/ptmx', 'dev/ptmx'; }
mnt('proc', 'proc', 'proc', 0, undef);
${opts.sysfs === false ? '' : "mnt('sysfs', 'sys', 'sysfs', 0, undef);"}
{ my ($n, $o) = ('.', '.oldroot'); syscall($NR_PIVOT, $n, $o) == 0 or die "kvnet-guest: pivot_root: $!\n"; }
chdir '/' or die;
${underSystem ? '' : `{ my $p = ${pq(node)}; my $d = $p =~ s{/[^/]+$}{}r; my $acc = ''; for (grep { length } split m{/}, $d) { $acc .= "/$_"; mkdir $acc; } touch($p); bind_ro("/.oldroot$p", $p); }`}
touch(${pq(AGENT_PATH)}); bind_ro(${pq(`/.oldroot${agentScript}`)}, ${pq(AGENT_PATH)});
{ my $o = '/.oldroot'; syscall($NR_UMOUNT2, $o, 2) == 0 or die "kvnet-guest: umount /.oldroot: $!\n"; rmdir '/.oldroot'; }
exec('sh', '-c', ${pq(initLines(node).join('\n'))}, 'kvnet-guest', @ARGV) or die "kvnet-guest: exec sh: $!\n";
`;
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

/** perl where it can, else the shell script; KVNET_GUEST_ROOT_SH=1 forces the script (self-tests of the fallback). */
function rootSetup(agentScript: string, sysfs?: boolean): string[] {
  if (process.env.KVNET_GUEST_ROOT_SH !== '1') {
    const perl = guestRootPerl(agentScript, { sysfs });
    if (perl) return [PERL, '-e', perl, '--'];
  }
  return ['sh', '-c', guestRootScript(agentScript, { sysfs }), 'kvnet-guest'];
}

/**
 * argv that starts the agent in its own root; run it inside the guest netns (the sim) or with
 * `unshare --user --map-root-user` in front (self-tests, outside the sandbox). The unshare parent
 * ignores SIGTERM; killing it (SIGKILL) delivers SIGTERM to the guest's init, which stops the agent.
 */
export function guestRootCommand(agentScript: string, agentArgs: string[], opts: { userns?: boolean; sysfs?: boolean } = {}): string[] {
  return [
    'unshare', ...(opts.userns ? ['--user', '--map-root-user'] : []), '--mount', '--uts', '--pid', '--fork', '--kill-child=SIGTERM', '--propagation', 'private',
    ...rootSetup(agentScript, opts.sysfs), ...agentArgs,
  ];
}
