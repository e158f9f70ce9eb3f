/**
 * Where mail for a domain goes (RFC 5321 §5.1): its MX hosts by preference, or the domain itself
 * (implicit MX) when it has none; null MX (RFC 7505) and NXDOMAIN are answered with 5xx
 * replies, resolver failures with 4xx (the reply classifier turns them into bounce or retry). Addresses of internal networks are dropped unless allowed.
 * mx-connect resolves MX too, but cannot tell a null MX from a broken one, nor NXDOMAIN at the MX
 * step from "no MX", so routing is done here and mx-connect only gets the resolved hosts.
 */
import type { MxRecord } from 'node:dns';
import { isIP } from 'node:net';
import { classifyAddress } from './address-class.js';
import { type Dns, isNoRecord } from './dns.js';
import type { SmtpReply } from './types.js';

export interface MxHost {
  exchange: string;
  priority: number;
  A: string[];
  AAAA: string[];
}

export type Route =
  | { ok: true; hosts: MxHost[]; implicit: boolean }
  | { ok: false; reply: SmtpReply };

export interface RouteOptions {
  allowPrivateMx: boolean;
  ignoreIPv6: boolean;
}

/** A failure as the reply a server would have given; the reply classifier decides what it means. */
const fail = (code: number, enhanced: string, text: string): Route => ({ ok: false, reply: { code, enhanced, text } });

const errCode = (err: unknown) => (err as NodeJS.ErrnoException)?.code ?? String(err);

export async function resolveRoute(domain: string, dns: Dns, opts: RouteOptions): Promise<Route> {
  const literal = /^\[(?:ipv6:)?([^\]]+)\]$/i.exec(domain)?.[1];
  if (literal && isIP(literal)) {
    return filterHosts(domain, [hostFromIp(literal)], opts, false);
  }
  let records: MxRecord[];
  try {
    records = await dns.mx(domain);
  } catch (err) {
    if (errCode(err) === 'ENOTFOUND') return fail(550, '5.1.2', `Domain ${domain} does not exist (NXDOMAIN)`);
    if (errCode(err) !== 'ENODATA') {
      return fail(451, '4.4.3', `DNS lookup of MX for ${domain} failed: ${errCode(err)}`);
    }
    records = [];
  }
  if (records.some((r) => r.exchange === '' || r.exchange === '.')) {
    return fail(556, '5.1.10', `Domain ${domain} does not accept mail (null MX, RFC 7505)`);
  }
  if (!records.length) {
    // Implicit MX: the domain's own addresses.
    const host = await resolveHost(domain, 0, dns, opts);
    if ('error' in host) return fail(451, '4.4.3', `DNS lookup of ${domain} failed: ${host.error}`);
    if (!host.A.length && !host.AAAA.length) {
      return fail(550, '5.1.2', `Domain ${domain} has no MX and no address record`);
    }
    return filterHosts(domain, [host], opts, true);
  }
  records.sort((a, b) => a.priority - b.priority);
  const hosts = await Promise.all(records.map((r) => resolveHost(r.exchange, r.priority, dns, opts)));
  const resolved = hosts.filter((h): h is MxHost => !('error' in h));
  const errors = hosts.filter((h): h is { error: string; exchange: string } => 'error' in h);
  const route = filterHosts(domain, resolved, opts, false);
  if (!route.ok && errors.length) {
    return fail(451, '4.4.3', `DNS lookup of MX host ${errors[0]!.exchange} failed: ${errors[0]!.error}`);
  }
  return route;
}

function hostFromIp(ip: string): MxHost {
  return { exchange: ip, priority: 0, A: isIP(ip) === 4 ? [ip] : [], AAAA: isIP(ip) === 6 ? [ip] : [] };
}

async function resolveHost(
  exchange: string,
  priority: number,
  dns: Dns,
  opts: RouteOptions,
): Promise<MxHost | { error: string; exchange: string }> {
  if (isIP(exchange)) return { ...hostFromIp(exchange), priority };
  const settle = (p: Promise<string[]>) =>
    p.then(
      (list) => ({ list }),
      (err: unknown) => (isNoRecord(err) ? { list: [] as string[] } : { error: errCode(err) }),
    );
  const [a, aaaa] = await Promise.all([
    settle(dns.a(exchange)),
    opts.ignoreIPv6 ? Promise.resolve({ list: [] as string[] }) : settle(dns.aaaa(exchange)),
  ]);
  const A: string[] = ('list' in a && a.list) || [];
  const AAAA: string[] = ('list' in aaaa && aaaa.list) || [];
  // One family failing is fine when the other answered.
  if (!A.length && !AAAA.length && ('error' in a || 'error' in aaaa)) {
    return { error: ('error' in a ? a.error : undefined) ?? (aaaa as { error: string }).error, exchange };
  }
  return { exchange, priority, A, AAAA };
}

function filterHosts(domain: string, hosts: MxHost[], opts: RouteOptions, implicit: boolean): Route {
  const internal: string[] = [];
  const keep = (ip: string) => {
    const c = classifyAddress(ip);
    if (c === 'public' || (c === 'internal' && opts.allowPrivateMx)) return true;
    if (c === 'internal') internal.push(ip);
    return false;
  };
  const out = hosts
    .map((h) => ({ ...h, A: h.A.filter(keep), AAAA: h.AAAA.filter(keep) }))
    .filter((h) => h.A.length || h.AAAA.length);
  if (out.length) return { ok: true, hosts: out, implicit };
  if (internal.length) {
    return fail(
      451,
      '4.4.4',
      `MX hosts of ${domain} resolve only to internal addresses (${internal.slice(0, 4).join(', ')}); ` +
        'not connecting to loopback/private/link-local networks (set RELAIS_ALLOW_PRIVATE_MX=1 to allow)',
    );
  }
  return fail(451, '4.4.4', `MX hosts of ${domain} have no usable address`);
}
