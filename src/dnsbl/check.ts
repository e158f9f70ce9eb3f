/**
 * One block-list lookup (RFC 5782): the IP's octets (or nibbles, IPv6) reversed under the
 * list's zone, or the domain itself for domain lists. NXDOMAIN = not listed; an answer in
 * 127.0.0.0/8 = listed, unless it is one the list uses to say "query refused / over quota"
 * (then `refused`: the result says nothing about the name); an answer outside 127/8 is not a
 * block-list answer (a resolver rewriting NXDOMAIN) and counts as an error.
 */
import type { Resolver } from 'node:dns/promises';
import { isIP } from 'node:net';
import ipaddr from 'ipaddr.js';
import type { BlockList } from './config.js';

export type DnsblStatus = 'listed' | 'clear' | 'refused' | 'error';

export interface DnsblResult {
  zone: string;
  name: string;
  kind: 'ip' | 'domain';
  status: DnsblStatus;
  /** A answers (listing or refusal codes). */
  codes: string[];
  /** The list's TXT explanation of a listing, or the error. */
  text?: string;
  delist: string;
}

export function queryName(name: string, zone: string): string {
  if (isIP(name) === 4) return `${name.split('.').reverse().join('.')}.${zone}`;
  if (isIP(name) === 6) {
    const hex = ipaddr.IPv6.parse(name).toNormalizedString().split(':').map((g) => g.padStart(4, '0')).join('');
    return `${hex.split('').reverse().join('.')}.${zone}`;
  }
  return `${name.replace(/^\*\./, '').replace(/\.$/, '')}.${zone}`;
}

const ABSENT = new Set(['ENOTFOUND', 'ENODATA']);

export async function lookupList(resolver: Resolver, name: string, list: BlockList): Promise<DnsblResult> {
  const kind = isIP(name) ? 'ip' : 'domain';
  const base = { zone: list.zone, name, kind, delist: list.delist } as const;
  const q = queryName(name, list.zone);
  let codes: string[];
  try {
    codes = (await resolver.resolve4(q)).sort();
  } catch (err) {
    const code = (err as { code?: string }).code ?? '';
    if (ABSENT.has(code)) return { ...base, status: 'clear', codes: [] };
    return { ...base, status: 'error', codes: [], text: `DNS ${code || (err as Error).message}` };
  }
  if (codes.every((c) => list.refused.includes(c))) return { ...base, status: 'refused', codes };
  if (codes.some((c) => !c.startsWith('127.'))) return { ...base, status: 'error', codes, text: 'réponse hors 127.0.0.0/8 (résolveur qui réécrit NXDOMAIN ?) / answer outside 127.0.0.0/8 (resolver rewriting NXDOMAIN?)' };
  const txt = await resolver.resolveTxt(q).then((rows) => rows.map((r) => r.join('')).join(' ').slice(0, 300), () => undefined);
  return { ...base, status: 'listed', codes: codes.filter((c) => !list.refused.includes(c)), ...(txt ? { text: txt } : {}) };
}

/** Every name in every list of its kind, a few lookups at a time. */
export async function checkAll(resolver: Resolver, targets: { ips: string[]; domains: string[] }, lists: { ip: BlockList[]; domain: BlockList[] }, concurrency = 8): Promise<DnsblResult[]> {
  const jobs: Array<() => Promise<DnsblResult>> = [];
  for (const ip of targets.ips) for (const l of lists.ip) jobs.push(() => lookupList(resolver, ip, l));
  for (const dom of targets.domains) for (const l of lists.domain) jobs.push(() => lookupList(resolver, dom, l));
  const out: DnsblResult[] = new Array(jobs.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(concurrency, jobs.length) }, async () => {
      while (next < jobs.length) {
        const i = next++;
        out[i] = await jobs[i]!();
      }
    }),
  );
  return out;
}
