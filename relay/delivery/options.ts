/** DeliveryOptions with every default filled in, so the rest of the code never guesses. */
import { hostname as osHostname } from 'node:os';
import type { WarmupSchedule } from './shaping-types.js';
import type { DeliveryOptions, OutboundAddress, SmarthostOptions } from './types.js';

export interface ResolvedOptions {
  hostname: string;
  ehloName: string;
  localAddresses: OutboundAddress[];
  pools: Record<string, { ehloName: string; localAddresses: OutboundAddress[]; warmup?: WarmupSchedule }>;
  dnsServers: string[];
  dnsTimeoutMs: number;
  dnsTries: number;
  routeCacheMs: number;
  allowPrivateMx: boolean;
  port: number;
  ignoreIPv6: boolean;
  smarthost?: SmarthostOptions;
  tlsRequiredDomains: Set<string>;
  mtaSts: boolean;
  mtaStsPort: number;
  caCerts: string[];
  maxConnections: number;
  maxInFlight: number;
  maxInFlightPerDomain: number;
  idleTimeoutMs: number;
  connectTimeoutMs: number;
  greetingTimeoutMs: number;
  socketTimeoutMs: number;
  retryFirstMs: number;
  retryMaxMs: number;
  lifetimeMs: number;
  delayWarningMs: number;
}

const MIN = 60_000;
const HOUR = 60 * MIN;

export function resolveOptions(o: DeliveryOptions = {}): ResolvedOptions {
  const hostname = o.hostname || osHostname();
  return {
    hostname,
    ehloName: o.ehloName || hostname,
    localAddresses: o.localAddresses ?? [],
    pools: Object.fromEntries(Object.entries(o.pools ?? {}).map(([name, p]) => [name, { ehloName: p.ehloName || o.ehloName || hostname, localAddresses: p.localAddresses ?? [], ...(p.warmup ? { warmup: p.warmup } : {}) }])),
    dnsServers: o.dnsServers ?? [],
    dnsTimeoutMs: o.dnsTimeoutMs ?? 5000,
    dnsTries: o.dnsTries ?? 2,
    routeCacheMs: o.routeCacheMs ?? MIN,
    allowPrivateMx: o.allowPrivateMx ?? false,
    port: o.port ?? 25,
    ignoreIPv6: o.ignoreIPv6 ?? false,
    smarthost: o.smarthost,
    tlsRequiredDomains: new Set((o.tlsRequiredDomains ?? []).map((d) => d.toLowerCase())),
    mtaSts: o.mtaSts ?? true,
    mtaStsPort: o.mtaStsPort ?? 443,
    caCerts: o.caCerts ?? [],
    maxConnections: o.maxConnections ?? 100,
    maxInFlight: o.maxInFlight ?? 200,
    maxInFlightPerDomain: o.maxInFlightPerDomain ?? 50,
    idleTimeoutMs: o.idleTimeoutMs ?? 5000,
    connectTimeoutMs: o.connectTimeoutMs ?? 30_000,
    greetingTimeoutMs: o.greetingTimeoutMs ?? MIN,
    socketTimeoutMs: o.socketTimeoutMs ?? 5 * MIN,
    retryFirstMs: o.retryFirstMs ?? 5 * MIN,
    retryMaxMs: o.retryMaxMs ?? HOUR,
    lifetimeMs: o.lifetimeMs ?? 5 * 24 * HOUR,
    delayWarningMs: o.delayWarningMs ?? 4 * HOUR,
  };
}
