/**
 * Streaming reader of DMARC aggregate reports (RFC 7489 appendix C), fed the decompressed XML
 * chunk by chunk: rows are summed as they close, so memory follows distinct rows, not bytes.
 * sax resolves no external entity and no DTD; a DOCTYPE at all is refused (no legitimate report
 * has one), as is any entity beyond the five predefined ones. Namespace prefixes are ignored
 * (DMARCbis adds a default namespace).
 */
import { isIP } from 'node:net';
import { StringDecoder } from 'node:string_decoder';
import { Writable } from 'node:stream';
import sax from 'sax';
import { ReportRejected, type AggregateReport, type AggregateRow, type AuthResult, type Disposition, type EvalResult } from './types.js';

/** Longest text kept from one element (ids, names, results are short). */
const MAX_TEXT = 256;
const MAX_COUNT = 1_000_000_000;

const DISPOSITIONS: readonly string[] = ['none', 'quarantine', 'reject'];
const EVALS: readonly string[] = ['pass', 'fail'];
const AUTHS: readonly string[] = ['pass', 'fail', 'softfail', 'neutral', 'none', 'temperror', 'permerror', 'policy'];

const pick = <T extends string>(v: string | undefined, allowed: readonly string[]): T => {
  const s = (v ?? '').trim().toLowerCase();
  return (allowed.includes(s) ? s : 'other') as T;
};

/** Printable, single-line, bounded: these strings end up in store keys, logs and the API. */
export function cleanLabel(s: string, max = 128): string {
  return s.replace(/[\u0000-\u001f\u007f|]+/g, ' ').trim().slice(0, max);
}

interface RecordDraft {
  ip?: string;
  count?: string;
  disposition?: string;
  dkim?: string;
  spf?: string;
  headerFrom?: string;
  dkimAuth: string[];
  spfAuth: string[];
}

const newRecord = (): RecordDraft => ({ dkimAuth: [], spfAuth: [] });

function bestAuth(results: string[]): AuthResult {
  const norm = results.map((r) => pick<AuthResult>(r, AUTHS));
  return norm.includes('pass') ? 'pass' : (norm[0] ?? 'none');
}

export class DmarcXmlSink extends Writable {
  private readonly parser = sax.parser(true, { trim: false, normalize: false, xmlns: false, position: false });
  private readonly decoder = new StringDecoder('utf8');
  private readonly stack: string[] = [];
  private text = '';
  private failure: ReportRejected | null = null;
  private rec: RecordDraft | null = null;
  private readonly meta = { org: '', reportId: '', begin: '', end: '', policyDomain: '', policy: '' };
  private readonly rows = new Map<string, AggregateRow & { headerFrom?: string }>();
  private sawRoot = false;

  constructor(private readonly maxRows: number) {
    super();
    const p = this.parser;
    p.onerror = (e) => this.fail('malformed', `XML invalide / invalid XML: ${e.message.split('\n')[0]}`);
    p.ondoctype = () => this.fail('doctype', 'DOCTYPE refusé (entités externes) / DOCTYPE refused (external entities)');
    p.onopentag = (tag) => {
      const name = localName(tag.name);
      if (this.stack.length === 0) {
        if (name !== 'feedback') this.fail('malformed', `pas un rapport DMARC (<${name}>) / not a DMARC report`);
        this.sawRoot = true;
      }
      this.stack.push(name);
      this.text = '';
      if (this.path() === 'record') this.rec = newRecord();
    };
    p.ontext = (t) => this.addText(t);
    p.oncdata = (t) => this.addText(t);
    p.onclosetag = () => this.close();
  }

  private fail(reason: ReportRejected['reason'], message: string): void {
    this.failure ??= new ReportRejected(reason, message);
  }

  private addText(t: string): void {
    if (this.text.length < MAX_TEXT) this.text += t.slice(0, MAX_TEXT - this.text.length);
  }

  /** Path below <feedback>, e.g. "record/row/source_ip". */
  private path(): string {
    return this.stack.slice(1).join('/');
  }

  private close(): void {
    const path = this.path();
    const v = this.text.trim();
    this.text = '';
    const r = this.rec;
    switch (path) {
      case 'report_metadata/org_name': this.meta.org = cleanLabel(v); break;
      case 'report_metadata/report_id': this.meta.reportId = cleanLabel(v, 256); break;
      case 'report_metadata/date_range/begin': this.meta.begin = v; break;
      case 'report_metadata/date_range/end': this.meta.end = v; break;
      case 'policy_published/domain': this.meta.policyDomain = v.toLowerCase(); break;
      case 'policy_published/p': this.meta.policy = v.toLowerCase(); break;
      case 'record/row/source_ip': if (r) r.ip = v; break;
      case 'record/row/count': if (r) r.count = v; break;
      case 'record/row/policy_evaluated/disposition': if (r) r.disposition = v; break;
      case 'record/row/policy_evaluated/dkim': if (r) r.dkim = v; break;
      case 'record/row/policy_evaluated/spf': if (r) r.spf = v; break;
      case 'record/identifiers/header_from': if (r) r.headerFrom = v.toLowerCase(); break;
      case 'record/auth_results/dkim/result': if (r && r.dkimAuth.length < 16) r.dkimAuth.push(v); break;
      case 'record/auth_results/spf/result': if (r && r.spfAuth.length < 16) r.spfAuth.push(v); break;
      case 'record': if (r) this.addRecord(r); this.rec = null; break;
    }
    this.stack.pop();
  }

  private addRecord(r: RecordDraft): void {
    const count = Number(r.count);
    // A row without a usable address or count says nothing: skipped, the rest of the report kept.
    if (!r.ip || isIP(r.ip.trim()) === 0 || !Number.isInteger(count) || count < 0) return;
    const row: AggregateRow = {
      domain: cleanLabel(r.headerFrom ?? '', 253),
      sourceIp: r.ip.trim().toLowerCase(),
      count: Math.min(count, MAX_COUNT),
      disposition: pick<Disposition>(r.disposition, DISPOSITIONS),
      dkim: pick<EvalResult>(r.dkim, EVALS),
      spf: pick<EvalResult>(r.spf, EVALS),
      dkimAuth: bestAuth(r.dkimAuth),
      spfAuth: bestAuth(r.spfAuth),
    };
    const key = [row.domain, row.sourceIp, row.disposition, row.dkim, row.spf, row.dkimAuth, row.spfAuth].join('|');
    const prev = this.rows.get(key);
    if (prev) {
      prev.count = Math.min(prev.count + row.count, MAX_COUNT);
      return;
    }
    if (this.rows.size >= this.maxRows) return this.fail('too_many_rows', `plus de ${this.maxRows} lignes distinctes / more than ${this.maxRows} distinct rows`);
    this.rows.set(key, row);
  }

  private feed(s: string): Error | null {
    if (this.failure) return this.failure;
    try {
      this.parser.write(s);
    } catch (err) {
      this.fail('malformed', `XML invalide / invalid XML: ${(err as Error).message.split('\n')[0]}`);
    }
    return this.failure;
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    cb(this.feed(this.decoder.write(chunk)));
  }

  override _final(cb: (err?: Error | null) => void): void {
    let err = this.feed(this.decoder.end());
    if (!err) {
      try {
        this.parser.close();
      } catch (e) {
        this.fail('malformed', `XML invalide / invalid XML: ${(e as Error).message.split('\n')[0]}`);
      }
      err = this.failure;
    }
    cb(err);
  }

  /** The report once the stream finished without error. */
  result(): AggregateReport {
    const m = this.meta;
    const begin = Number(m.begin);
    const end = Number(m.end);
    if (!this.sawRoot || !m.org || !m.reportId || !m.policyDomain || !Number.isInteger(begin) || !Number.isInteger(end) || end < begin) {
      throw new ReportRejected('malformed', 'rapport DMARC incomplet (org_name, report_id, date_range, domain) / incomplete DMARC report');
    }
    const rows = [...this.rows.values()].map((r) => ({ ...r, domain: r.domain || m.policyDomain }));
    return { kind: 'dmarc', org: m.org, reportId: m.reportId, begin, end, policyDomain: m.policyDomain, policy: m.policy || undefined, rows };
  }
}

const localName = (n: string): string => {
  const i = n.indexOf(':');
  return (i >= 0 ? n.slice(i + 1) : n).toLowerCase();
};
