/**
 * relay/reports: report parts read from a spooled message file, streaming. Real-shaped reports
 * (Google zip, Microsoft gzip, Yahoo XML, a TLS report) give their rows; bombs stop at the cap,
 * DOCTYPEs and entities are refused, malformed input is a refusal, never a throw.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { Zip, ZipDeflate } from 'fflate';
import { describe, expect, it } from 'vitest';
import { extractReports, reportPart } from '../../relay/reports/extract.js';
import type { AggregateReport, TlsReport } from '../../relay/reports/types.js';
import { aggregateMail, gzipBomb, reportMessage, tlsReportMail, xxeXml, type ReportSpec } from '../helpers/dmarc-reports.js';

const dir = mkdtempSync(join(tmpdir(), 'relais-reports-'));
let n = 0;
function file(text: string): string {
  const p = join(dir, `m${n++}.eml`);
  writeFileSync(p, text);
  return p;
}
const opts = { maxReportSize: 20 * 1024 * 1024, maxRows: 1000 };
const BEGIN = 1_764_979_200; // 2025-12-06T00:00:00Z

const spec = (reporter: ReportSpec['reporter']): ReportSpec => ({
  reporter,
  domain: 'laruche.example',
  reportId: `${reporter}-42`,
  begin: BEGIN,
  rows: [
    { ip: '198.51.100.10', count: 120, dkim: 'pass', spf: 'pass', dkimDomain: 'laruche.example' },
    { ip: '198.51.100.10', count: 3, dkim: 'fail', spf: 'fail' },
    { ip: '203.0.113.77', count: 9, dkim: 'fail', spf: 'fail', disposition: 'quarantine' },
  ],
});

describe('report extraction', () => {
  it.each(['google', 'microsoft', 'yahoo'] as const)('reads a %s aggregate report', async (reporter) => {
    const r = await extractReports(file(aggregateMail(spec(reporter), 'dmarc@bounce.example')), opts);
    expect(r.rejected).toEqual([]);
    expect(r.reports).toHaveLength(1);
    const rep = r.reports[0] as AggregateReport;
    expect(rep).toMatchObject({ kind: 'dmarc', reportId: `${reporter}-42`, begin: BEGIN, end: BEGIN + 86_399, policyDomain: 'laruche.example', policy: 'none' });
    expect(rep.rows).toHaveLength(3);
    expect(rep.rows.find((x) => x.count === 120)).toMatchObject({ domain: 'laruche.example', sourceIp: '198.51.100.10', dkim: 'pass', spf: 'pass', dkimAuth: 'pass', spfAuth: 'pass', disposition: 'none' });
    expect(rep.rows.find((x) => x.count === 9)).toMatchObject({ sourceIp: '203.0.113.77', dkim: 'fail', spf: 'fail', spfAuth: 'softfail', dkimAuth: 'none', disposition: 'quarantine' });
  });

  it('reads an RFC 8460 TLS report (application/tlsrpt+gzip)', async () => {
    const r = await extractReports(file(tlsReportMail({ domain: 'laruche.example', reportId: '2025-12-06T00:00:00Z_laruche.example', begin: BEGIN, ok: 50, failed: 2, to: 'tlsrpt@bounce.example' })), opts);
    expect(r.rejected).toEqual([]);
    const rep = r.reports[0] as TlsReport;
    expect(rep).toMatchObject({ kind: 'tlsrpt', org: 'Google Inc.', begin: BEGIN, policies: [{ domain: 'laruche.example', policyType: 'sts', successful: 50, failed: 2, failures: { 'certificate-expired': 2 } }] });
  });

  it('stops a 1 GiB gzip bomb at the cap', async () => {
    const bomb = gzipBomb(1);
    expect(bomb.length).toBeLessThan(2 * 1024 * 1024);
    const r = await extractReports(file(reportMessage({ from: 'x@evil.example', to: 'dmarc@b.example', subject: 'r', attachment: { filename: 'r.xml.gz', contentType: 'application/gzip', data: bomb } })), opts);
    expect(r.reports).toEqual([]);
    expect(r.rejected.map((e) => e.reason)).toEqual(['too_large']);
  });

  it('stops a zip bomb at the cap', async () => {
    const chunks: Uint8Array[] = [];
    const zip = new Zip((err, data) => {
      if (err) throw err;
      chunks.push(data);
    });
    const entry = new ZipDeflate('r.xml', { level: 1 });
    zip.add(entry);
    entry.push(new TextEncoder().encode('<feedback>'));
    const spaces = new Uint8Array(1 << 20).fill(0x20);
    for (let i = 0; i < 16; i++) entry.push(spaces, i === 15);
    zip.end();
    const data = Buffer.concat(chunks);
    const r = await extractReports(file(reportMessage({ from: 'x@evil.example', to: 'dmarc@b.example', subject: 'r', attachment: { filename: 'r.zip', contentType: 'application/zip', data } })), { ...opts, maxReportSize: 1024 * 1024 });
    expect(r.reports).toEqual([]);
    expect(r.rejected.map((e) => e.reason)).toEqual(['too_large']);
  });

  it('refuses a DOCTYPE with an external entity, and an undeclared entity', async () => {
    const xxe = await extractReports(file(reportMessage({ from: 'x@evil.example', to: 'dmarc@b.example', subject: 'r', attachment: { filename: 'r.xml', contentType: 'text/xml', data: Buffer.from(xxeXml('laruche.example')) } })), opts);
    expect(xxe.reports).toEqual([]);
    expect(xxe.rejected.map((e) => e.reason)).toEqual(['doctype']);
    const bare = xxeXml('laruche.example').replace(/<!DOCTYPE[^\n]*\n/, '');
    const ent = await extractReports(file(reportMessage({ from: 'x@evil.example', to: 'dmarc@b.example', subject: 'r', attachment: { filename: 'r.xml.gz', contentType: 'application/gzip', data: gzipSync(bare) } })), opts);
    expect(ent.reports).toEqual([]);
    expect(ent.rejected.map((e) => e.reason)).toEqual(['malformed']);
  });

  it('refuses malformed input without throwing', async () => {
    const cases: Array<[string, string, Buffer]> = [
      ['r.xml', 'text/xml', Buffer.from('<feedback><report_metadata><org_name>x</org_name>')],
      ['r.xml', 'text/xml', Buffer.from('<html><body>hello</body></html>')],
      ['r.xml.gz', 'application/gzip', Buffer.from('not gzip at all')],
      ['r.zip', 'application/zip', Buffer.from('PK\u0003\u0004 truncated')],
      ['r.json', 'application/tlsrpt+json', Buffer.from('{"organization-name": 1')],
      ['r.xml.gz', 'application/gzip', gzipSync('<feedback></feedback>').subarray(0, 12)],
    ];
    for (const [filename, contentType, data] of cases) {
      const r = await extractReports(file(reportMessage({ from: 'x@evil.example', to: 'dmarc@b.example', subject: 'r', attachment: { filename, contentType, data } })), opts);
      expect(r.reports, filename).toEqual([]);
      expect(r.rejected.length, `${filename} ${contentType}`).toBe(1);
    }
  });

  it('caps the distinct rows of one report', async () => {
    const s = spec('yahoo');
    s.rows = Array.from({ length: 30 }, (_, i) => ({ ip: `192.0.2.${i + 1}`, count: 1, dkim: 'pass' as const, spf: 'pass' as const }));
    const r = await extractReports(file(aggregateMail(s, 'dmarc@b.example')), { ...opts, maxRows: 10 });
    expect(r.rejected.map((e) => e.reason)).toEqual(['too_many_rows']);
  });

  it('tells report parts by media type or file name', () => {
    expect(reportPart('application/zip', 'google.com!x!1!2.zip')).toEqual({ packing: 'zip', format: 'xml' });
    expect(reportPart('application/octet-stream', 'x.xml.gz')).toEqual({ packing: 'gzip', format: 'xml' });
    expect(reportPart('application/x-gzip', '')).toEqual({ packing: 'gzip', format: 'xml' });
    expect(reportPart('application/tlsrpt+gzip', 'a.json.gz')).toEqual({ packing: 'gzip', format: 'json' });
    expect(reportPart('text/xml', '')).toEqual({ packing: 'none', format: 'xml' });
    expect(reportPart('text/plain', '')).toBeNull();
    expect(reportPart('text/html', '')).toBeNull();
  });
});

describe('report extraction: the file itself', () => {
  it('a spooled file that cannot be read is a refusal, not a hang', async () => {
    const r = await extractReports(join(dir, 'does-not-exist.eml'), opts);
    expect(r.reports).toEqual([]);
    expect(r.rejected.map((e) => e.reason)).toEqual(['malformed']);
  });
});
