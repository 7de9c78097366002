// Public probe API for suites.
export * from './stats.ts';
export * from './target.ts';
export * from './reachability.ts';
export * from './icmp-latency.ts';
export * from './throughput.ts';
export * from './path-mtu.ts';
export * from './egress-source.ts';
export * from './dns.ts';
export * from './harness-timing.ts';
export { startBackground, type BackgroundProcess, type StartBackgroundOptions } from './background.ts';
export * from './request-latency.ts';
export * from './downtime.ts';
