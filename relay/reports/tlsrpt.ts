/**
 * SMTP TLS reports (RFC 8460 §4): one JSON document, read whole because JSON has no streaming
 * form here; the caller caps it (TLS_JSON_MAX) well below the DMARC cap, real ones are a few KiB.
 */
import { Writable } from 'node:stream';
import { cleanLabel } from './dmarc-xml.js';
import { ReportRejected, type TlsPolicyResult, type TlsReport } from './types.js';

/** Largest TLS report JSON read (they list policies and failure kinds, not sessions). */
export const TLS_JSON_MAX = 4 * 1024 * 1024;
const MAX_POLICIES = 1000;
const MAX_FAILURE_KINDS = 32;

const obj = (v: unknown): Record<string, unknown> => (v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : {});
const str = (v: unknown): string => (typeof v === 'string' ? v : '');
const num = (v: unknown): number => (typeof v === 'number' && Number.isInteger(v) && v >= 0 ? Math.min(v, 1_000_000_000) : 0);
const epoch = (v: unknown): number => Math.floor(Date.parse(str(v)) / 1000);

export function parseTlsReport(text: string): TlsReport {
  let doc: Record<string, unknown>;
  try {
    doc = obj(JSON.parse(text));
  } catch (err) {
    throw new ReportRejected('malformed', `JSON invalide / invalid JSON: ${(err as Error).message}`);
  }
  const range = obj(doc['date-range']);
  const org = cleanLabel(str(doc['organization-name']));
  const reportId = cleanLabel(str(doc['report-id']), 256);
  const begin = epoch(range['start-datetime']);
  const end = epoch(range['end-datetime']);
  const list = Array.isArray(doc.policies) ? doc.policies : null;
  if (!org || !reportId || !Number.isFinite(begin) || !Number.isFinite(end) || end < begin || !list) {
    throw new ReportRejected('malformed', 'rapport TLS incomplet (organization-name, report-id, date-range, policies) / incomplete TLS report');
  }
  if (list.length > MAX_POLICIES) throw new ReportRejected('too_many_rows', `plus de ${MAX_POLICIES} politiques / more than ${MAX_POLICIES} policies`);
  const policies: TlsPolicyResult[] = [];
  for (const p of list) {
    const pol = obj(obj(p).policy);
    const summary = obj(obj(p).summary);
    const domain = cleanLabel(str(pol['policy-domain']), 253).toLowerCase();
    if (!domain) continue;
    const failures: Record<string, number> = {};
    const details = Array.isArray(obj(p)['failure-details']) ? (obj(p)['failure-details'] as unknown[]) : [];
    for (const d of details) {
      const kind = cleanLabel(str(obj(d)['result-type']), 64) || 'other';
      if (!(kind in failures) && Object.keys(failures).length >= MAX_FAILURE_KINDS) continue;
      failures[kind] = (failures[kind] ?? 0) + num(obj(d)['failed-session-count']);
    }
    policies.push({
      domain,
      policyType: cleanLabel(str(pol['policy-type']), 32) || 'other',
      successful: num(summary['total-successful-session-count']),
      failed: num(summary['total-failure-session-count']),
      failures,
    });
  }
  return { kind: 'tlsrpt', org, reportId, begin, end, policies };
}

/** Collects the (capped) JSON bytes; result() parses them. */
export class JsonSink extends Writable {
  private readonly chunks: Buffer[] = [];
  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    this.chunks.push(chunk);
    cb();
  }
  result(): TlsReport {
    return parseTlsReport(Buffer.concat(this.chunks).toString('utf8'));
  }
}
