/**
 * Decides where and how mail for a recipient domain is sent: the smarthost, or the domain's MX
 * hosts with the TLS level its MTA-STS policy, the options and its provider ask for.
 */
import type { Logger } from 'pino';
import type { Destination } from './connector.js';
import type { Dns } from './dns.js';
import type { MtaSts } from './mta-sts.js';
import type { ResolvedOptions } from './options.js';
import { type Route, resolveRoute } from './route.js';
import { BoundedMap } from '../../src/util/bounded-map.js';

/** Routes held (recipient domains come from mail, MX answers from their owners): bytes, not entries. */
export const ROUTE_CACHE_BYTES = 4 * 1024 * 1024;
import type { Phase, ProviderCatalog, ProviderInfo, SmtpReply } from './types.js';

export type Routing =
  | { ok: true; dest: Destination; provider: ProviderInfo; key: string; mx: string }
  | { ok: false; reply: SmtpReply; phase: Phase; provider: ProviderInfo };

export class Router {
  private readonly cache = new BoundedMap<{ route: Route; expiresAt: number }>(ROUTE_CACHE_BYTES);
  private readonly smarthostProvider?: ProviderInfo;

  constructor(
    private readonly opts: ResolvedOptions,
    private readonly dns: Dns,
    private readonly providers: ProviderCatalog,
    private readonly sts: MtaSts | null,
    private readonly log: Logger,
  ) {
    const sh = opts.smarthost;
    if (sh) {
      this.smarthostProvider = {
        id: 'smarthost',
        name: 'Smarthost',
        usGiant: false,
        shaping: {
          maxConnections: sh.maxConnections ?? 10,
          messagesPerConnection: sh.messagesPerConnection ?? 100,
          messagesPerMinute: null,
          tlsRequired: sh.tls === 'starttls' || sh.tls === 'implicit',
        },
      };
    }
  }

  /** Recipients of one transaction share this key: one domain, or everything via the smarthost. */
  groupKey(domain: string): string {
    return this.opts.smarthost ? 'smarthost' : domain;
  }

  async route(domain: string): Promise<Routing> {
    const sh = this.opts.smarthost;
    if (sh && this.smarthostProvider) {
      const tls = sh.tls ?? 'opportunistic';
      return {
        ok: true,
        provider: this.smarthostProvider,
        key: 'smarthost',
        mx: sh.host,
        dest: {
          target: sh.host,
          hosts: [{ exchange: sh.host, priority: 0, A: [], AAAA: [] }],
          port: sh.port ?? (tls === 'implicit' ? 465 : 587),
          tls: tls === 'starttls' ? 'require' : tls,
          verify: sh.rejectUnauthorized ?? (tls === 'starttls' || tls === 'implicit'),
          auth: sh.auth,
        },
      };
    }
    const route = await this.resolve(domain);
    if (!route.ok) {
      return { ok: false, reply: route.reply, phase: 'dns', provider: this.providers.providerForDomain(domain) };
    }
    let hosts = route.hosts;
    let tls: Destination['tls'] = 'opportunistic';
    let verify = false;
    const policy = this.sts ? await this.sts.policyFor(domain) : null;
    if (policy && policy.mode !== 'none') {
      const allowed = hosts.filter((h) => this.sts!.matches(h.exchange, policy));
      if (policy.mode === 'enforce') {
        const provider = this.providers.providerForDomain(domain, hosts[0]!.exchange);
        if (!allowed.length) {
          const text = `MTA-STS policy of ${domain} lists none of its MX hosts (${hosts.map((h) => h.exchange).join(', ')})`;
          return { ok: false, reply: { code: 451, enhanced: '4.7.5', text }, phase: 'policy', provider };
        }
        hosts = allowed;
        tls = 'require';
        verify = true;
      } else if (allowed.length < hosts.length) {
        this.log.info({ domain, mode: policy.mode }, 'mta-sts (testing): MX hosts outside the policy');
      }
    }
    const provider = this.providers.providerForDomain(domain, hosts[0]!.exchange);
    if (tls !== 'require' && (this.opts.tlsRequiredDomains.has(domain) || provider.shaping.tlsRequired)) tls = 'require';
    return {
      ok: true,
      provider,
      mx: hosts[0]!.exchange,
      key: `${domain}|${tls}|${verify ? 'v' : ''}`,
      dest: { target: domain, hosts, port: this.opts.port, tls, verify },
    };
  }

  private async resolve(domain: string): Promise<Route> {
    const hit = this.cache.get(domain);
    if (hit && hit.expiresAt > Date.now()) return hit.route;
    const route = await resolveRoute(domain, this.dns, { allowPrivateMx: this.opts.allowPrivateMx, ignoreIPv6: this.opts.ignoreIPv6 });
    if (this.opts.routeCacheMs > 0 && route.ok) {
      // Full: starts over; live domains are resolved again once.
      this.cache.set(domain, { route, expiresAt: Date.now() + this.opts.routeCacheMs });
    }
    return route;
  }
}
