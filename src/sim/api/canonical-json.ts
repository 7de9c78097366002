/**
 * JSON with object keys sorted. Clients serialize in their own key order (Go structs in field order,
 * client-node alphabetically), so a plain JSON.stringify comparison saw an unchanged object as
 * changed: a no-op replace bumped resourceVersion (and generation), and watchers got a MODIFIED.
 */
export function canonicalJson(v: unknown): string {
  return JSON.stringify(v, (_k, x: unknown) => (x && typeof x === 'object' && !Array.isArray(x)
    ? Object.fromEntries(Object.entries(x).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
    : x));
}
