/**
 * The `dnsbl:` section: which block lists Relais watches its own addresses and its tenants'
 * domains in. The defaults are the major public lists; their usage terms (as published):
 *  - Spamhaus ZEN / DBL: free for low-volume, non-commercial use; queries through large public
 *    resolvers (8.8.8.8, 1.1.1.1…) are refused with 127.255.255.254, over-quota queries with
 *    127.255.255.255 (use a local resolver, or a Data Query Service key for more).
 *  - Barracuda (b.barracudacentral.org): free, asks users to register their resolver's IP.
 *  - SpamCop (bl.spamcop.net): free; listings expire by themselves 24 h after the last report.
 *  - UCEPROTECT level 1: free for low volume; listings expire after 7 days without spam.
 *  - SURBL multi: free for low volume (under 1,000 users); refused queries answer 127.0.0.1.
 *  - URIBL multi: free for low volume; a refused query (public resolver, over quota) answers 127.0.0.1.
 *
 *   dnsbl:
 *     interval: 30m            # false or 0 to stop watching
 *     ip_lists:                # a zone name, or { zone, delist, refused: [codes] }
 *       - { zone: zen.spamhaus.org, delist: https://check.spamhaus.org/, refused: [127.255.255.252, 127.255.255.254, 127.255.255.255] }
 *     domain_lists: [...]
 */
import { isIP } from 'node:net';
import { duration, fail, onlyKeys } from '../../config/validate.js';

export interface BlockList {
  zone: string;
  /** Page where a listed name can be looked up and delisted. */
  delist: string;
  /** Answers that mean "query refused / over quota", not a listing. */
  refused: string[];
}

export interface DnsblConfig {
  /** 0 = not watched periodically (the API and CLI still check on demand). */
  interval_ms: number;
  ip_lists: BlockList[];
  domain_lists: BlockList[];
}

const SPAMHAUS_REFUSED = ['127.255.255.252', '127.255.255.254', '127.255.255.255'];

export const DEFAULT_IP_LISTS: BlockList[] = [
  { zone: 'zen.spamhaus.org', delist: 'https://check.spamhaus.org/', refused: SPAMHAUS_REFUSED },
  { zone: 'b.barracudacentral.org', delist: 'https://www.barracudacentral.org/rbl/removal-request', refused: [] },
  { zone: 'bl.spamcop.net', delist: 'https://www.spamcop.net/bl.shtml', refused: [] },
  { zone: 'dnsbl-1.uceprotect.net', delist: 'https://www.uceprotect.net/en/rblcheck.php', refused: [] },
];

export const DEFAULT_DOMAIN_LISTS: BlockList[] = [
  // 127.0.1.255: DBL asked about an IP address, a query error as well.
  { zone: 'dbl.spamhaus.org', delist: 'https://check.spamhaus.org/', refused: [...SPAMHAUS_REFUSED, '127.0.1.255'] },
  { zone: 'multi.surbl.org', delist: 'https://surbl.org/surbl-analysis', refused: ['127.0.0.1'] },
  { zone: 'multi.uribl.com', delist: 'https://admin.uribl.com/', refused: ['127.0.0.1'] },
];

function parseLists(key: string, raw: unknown, dflt: BlockList[]): BlockList[] {
  if (raw === undefined || raw === null) return dflt;
  if (!Array.isArray(raw)) return fail(key, 'expected a list of zones or { zone, delist, refused }');
  return raw.map((v: unknown, i) => {
    const k = `${key}[${i}]`;
    const o = typeof v === 'string' ? { zone: v } : v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : null;
    if (!o) return fail(k, 'expected a zone name or { zone, delist, refused }');
    onlyKeys(o, k, ['zone', 'delist', 'refused']);
    const zone = typeof o.zone === 'string' ? o.zone.trim().toLowerCase().replace(/\.$/, '') : '';
    if (!/^[a-z0-9-]+(\.[a-z0-9-]+)+$/.test(zone)) fail(`${k}.zone`, `invalid zone ${JSON.stringify(o.zone)}`);
    const known = dflt.find((d) => d.zone === zone);
    const refused = o.refused === undefined ? (known?.refused ?? []) : Array.isArray(o.refused) ? o.refused.map(String) : null;
    if (!refused || refused.some((r) => isIP(r) !== 4)) return fail(`${k}.refused`, 'expected a list of IPv4 answers');
    const delist = o.delist === undefined ? (known?.delist ?? '') : String(o.delist);
    return { zone, delist, refused };
  });
}

export function parseDnsblConfig(raw: Record<string, unknown>): DnsblConfig {
  onlyKeys(raw, 'dnsbl', ['interval', 'ip_lists', 'domain_lists']);
  const interval = raw.interval === false ? 0 : duration(raw.interval ?? '30m', 'dnsbl.interval');
  if (interval !== 0 && interval < 60_000) fail('dnsbl.interval', 'at least 1m (block lists limit query rates), or 0 to stop watching');
  return {
    interval_ms: interval,
    ip_lists: parseLists('dnsbl.ip_lists', raw.ip_lists, DEFAULT_IP_LISTS),
    domain_lists: parseLists('dnsbl.domain_lists', raw.domain_lists, DEFAULT_DOMAIN_LISTS),
  };
}
