/**
 * Where DMARC and TLS report data lives in the store (hash buckets, one per domain and UTC day,
 * expiring with stats.retention_days) and how one stored row is named. One definition, used by
 * the recorder and the queries.
 */
import type { AggregateRow, AuthResult, Disposition, EvalResult } from '../../relay/reports/types.js';

export const DAY_MS = 86_400_000;

export const aggKey = (domain: string, day: string): string => `dmarc:agg:${domain}:${day}`;
export const tlsKey = (domain: string, day: string): string => `dmarc:tls:${domain}:${day}`;
export const rowsKey = (domain: string, day: string): string => `dmarc:rows:${domain}:${day}`;
export const seenKey = (kind: string, digest: string): string => `dmarc:seen:${kind}:${digest}`;
export const AGG_PREFIX = 'dmarc:agg:';

/** "20261207" for a time in the UTC day 2026-12-07. */
export function dayOf(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10).replace(/-/g, '');
}

export function dayStart(day: string): number {
  return Date.UTC(Number(day.slice(0, 4)), Number(day.slice(4, 6)) - 1, Number(day.slice(6, 8)));
}

/** "20261207" → "2026-12-07" for people and the API. */
export const isoDay = (day: string): string => `${day.slice(0, 4)}-${day.slice(4, 6)}-${day.slice(6, 8)}`;

export interface StoredRow {
  org: string;
  sourceIp: string;
  disposition: Disposition;
  dkim: EvalResult;
  spf: EvalResult;
  dkimAuth: AuthResult;
  spfAuth: AuthResult;
}

/** Field of a row in a domain/day bucket; org has no "|" (cleanLabel). */
export function rowField(org: string, r: Omit<AggregateRow, 'domain' | 'count'>): string {
  return [org, r.sourceIp, r.disposition, r.dkim, r.spf, r.dkimAuth, r.spfAuth].join('|');
}

/** Fields counting reports per reporter start with this (not a row). */
export const REPORTS_FIELD = '#reports|';

export function parseRowField(f: string): StoredRow | null {
  const p = f.split('|');
  if (p.length !== 7) return null;
  const [org, sourceIp, disposition, dkim, spf, dkimAuth, spfAuth] = p as [string, string, Disposition, EvalResult, EvalResult, AuthResult, AuthResult];
  return { org, sourceIp, disposition, dkim, spf, dkimAuth, spfAuth };
}
