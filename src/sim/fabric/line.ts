// Guards for values interpolated into `ip -batch`, `bridge -batch`, nft scripts and `sh`: names that
// reach the fabric from the API (bridges, ports, NICs) must be one token, never a second command.

/** One word of a command line: names, numbers, addresses, MACs, CIDRs. */
const TOKEN = /^[A-Za-z0-9_.:/@%+,=-]+$/;

/** `value` when it is a single safe token; throws naming `what` otherwise. */
export function token(value: string | number, what = 'value'): string {
  const s = String(value);
  if (!TOKEN.test(s)) throw new Error(`refusing ${what} ${JSON.stringify(s)} in a command line: only letters, digits and _.:/@%+,=- are allowed`);
  return s;
}

/** An nft string or address literal (the same rule: nothing that ends the token or the rule). */
export function nftString(value: string, what = 'value'): string {
  return token(value, what);
}

/**
 * A command line whose every interpolated value is a safe token:
 * ipLine`link add ${name} type bridge` throws for a name with whitespace, a newline or a `;`.
 */
export function ipLine(strings: TemplateStringsArray, ...values: Array<string | number>): string {
  return strings.reduce((out, s, i) => out + s + (i < values.length ? token(values[i], `"${strings[i].trim().split(/\s+/).at(-1) ?? ''}" argument`) : ''), '');
}
