/**
 * Who a reported source IP is: `relais` (public_ips, delivery.local_addresses, the pools'
 * addresses), `mailcow` (an upstream Relais takes mail from: a configured client's networks,
 * which sent directly instead of through Relais) or `elsewhere`, named by its reverse DNS.
 * Reverse lookups go to the configured DNS servers and are remembered (at most 4,096 names,
 * renewed daily); a failed lookup answers null.
 */
import { Resolver } from 'node:dns/promises';
import { memoize } from '../util/memo.js';
import { ipInNetworks, toNets } from '../clients/directory.js';
import type { RelaisConfig } from '../config/config.js';
import type { TenantDirectory } from '../tenants/directory.js';

export type SourceLabel = 'relais' | 'mailcow' | 'elsewhere';

export interface SourceLabeller {
  label(ip: string): Promise<SourceLabel>;
  /** PTR name of an address, or null. */
  reverse(ip: string, now?: number): Promise<string | null>;
}

/** Every address Relais sends from, per the configuration. */
export function relaisAddresses(config: Pick<RelaisConfig, 'public_ips' | 'delivery'>): string[] {
  const all = [...config.public_ips, ...config.delivery.local_addresses, ...Object.values(config.delivery.pools).flatMap((p) => p.local_addresses)];
  return [...new Set(all.map((ip) => ip.toLowerCase()))];
}

export function createSourceLabeller(opts: { config: Pick<RelaisConfig, 'public_ips' | 'delivery' | 'dns'>; tenants: TenantDirectory; timeoutMs?: number }): SourceLabeller {
  const own = toNets(relaisAddresses(opts.config));
  const resolver = new Resolver({ timeout: opts.timeoutMs ?? 2000, tries: 1 });
  if (opts.config.dns.servers.length) resolver.setServers(opts.config.dns.servers);
  const lookup = memoize(
    (key: string): Promise<string | null> =>
      resolver.reverse(key.slice(0, key.lastIndexOf('|'))).then(
        (names) => names[0]?.toLowerCase().replace(/\.$/, '') ?? null,
        () => null,
      ),
    // Keys come from reports: the memo's byte bound (about 6000 lookups) holds them.
  );
  /** The clients' networks, parsed once per directory snapshot. */
  const upstreams = new WeakMap<object, ReturnType<typeof toNets>>();
  const upstreamNets = async () => {
    const snap = await opts.tenants.snapshot();
    let nets = upstreams.get(snap);
    if (!nets) {
      nets = toNets([...snap.clients.values()].filter((c) => !c.disabled).flatMap((c) => c.networks ?? []));
      upstreams.set(snap, nets);
    }
    return nets;
  };
  return {
    async label(ip) {
      if (ipInNetworks(ip, own)) return 'relais';
      return ipInNetworks(ip, await upstreamNets()) ? 'mailcow' : 'elsewhere';
    },
    reverse(ip, now = Date.now()) {
      return lookup(`${ip}|${Math.floor(now / 86_400_000)}`);
    },
  };
}
