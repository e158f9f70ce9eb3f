/**
 * DMARC aggregate reports (to dmarc@<bounce domain> and dmarc.report_addresses) and SMTP TLS
 * reports (to tlsrpt@<bounce domain>), taken on the inbound listener like DSNs: from any
 * sender, never queued nor relayed. Each report part is read streaming (relay/reports), stored
 * once per reporter and report id for the tenants' domains (src/dmarc), and counted in
 * relais_reports_total. A message whose every report part was refused (too large once
 * decompressed, DOCTYPE, malformed) is answered 550 5.6.0 so the reporter sees why; the relay
 * itself is never at risk (bounded bytes, no entity expansion).
 */
import type { Logger } from 'pino';
import type { Counter } from 'prom-client';
import type { Verdict } from '../../policies/types.js';
import { StoreUnavailableError } from '../../src/store/types.js';
import type { DataContext, Decision, ReportTaker } from '../intake/hooks.js';
import { extractReports } from './extract.js';
import type { InboundReport } from './types.js';

export interface DmarcReportsDeps {
  bounceDomain: string;
  /** dmarc.report_addresses, dmarc.max_report_size, dmarc.max_rows. */
  config: { report_addresses: string[]; max_report_size: number; max_rows: number };
  /** Stores a parsed report (src/dmarc/recorder.ts); rejects with StoreUnavailableError when down. */
  recorder: { record(r: InboundReport): Promise<{ stored: true; domains: string[]; rows: number } | { stored: false; reason: string; domains?: string[] }> };
  /** relais_reports_total{kind, outcome}. */
  counter: Counter<'kind' | 'outcome'>;
  log: Logger;
}

const verdict = (code: number, enhanced: string, text: string, action: Verdict['action'], reason: string): Verdict => ({ action, reason, smtp: { code, enhanced, text } });
const received = verdict(250, '2.0.0', 'Rapport reçu / Report received', 'accept', 'dmarc_report');
const storeDown = verdict(451, '4.3.0', 'Erreur locale, rapport non accepté, réessayez plus tard / Local error in processing, try again later', 'defer', 'store_unavailable');
const noReport = verdict(550, '5.6.0', 'Aucun rapport DMARC ou TLS en pièce jointe (gzip, zip, XML ou JSON) / No DMARC or TLS report attached (gzip, zip, XML or JSON)', 'reject', 'dmarc_no_report');

export function createDmarcReports(d: DmarcReportsDeps): ReportTaker {
  const log = d.log.child({ component: 'dmarc-reports' });
  const bounce = d.bounceDomain.toLowerCase();
  const addresses = new Set([`dmarc@${bounce}`, `tlsrpt@${bounce}`, ...d.config.report_addresses]);
  const ours = (a: string) => addresses.has(a.toLowerCase());

  return {
    recipientKind: (address) => (ours(address) ? 'report' : null),
    isReport: (recipients) => recipients.length > 0 && recipients.every(ours),

    async handle(ctx: DataContext): Promise<Decision> {
      const f = ctx.facts;
      const base = { queueId: ctx.queueId, from: f.mailFrom || '<>', client: f.client.name ?? f.client.address, subject: f.headers.subject?.slice(0, 200) };
      await ctx.flushBody();
      const found = await extractReports(ctx.bodyPath, { maxReportSize: d.config.max_report_size, maxRows: d.config.max_rows });
      for (const r of found.rejected) {
        d.counter.inc({ kind: r.kind ?? 'unknown', outcome: r.reason });
        log.warn({ ...base, reason: r.reason, err: r.message }, 'inbound report refused');
      }
      if (!found.reports.length) {
        if (!found.rejected.length) {
          d.counter.inc({ kind: 'unknown', outcome: 'none' });
          log.info(base, 'message to a report address without a report, refused');
          return { verdict: noReport };
        }
        const why = found.rejected[0]!.message;
        return { verdict: verdict(550, '5.6.0', `Rapport refusé : ${why}`.slice(0, 400), 'reject', `dmarc_${found.rejected[0]!.reason}`) };
      }
      try {
        for (const r of found.reports) {
          const out = await d.recorder.record(r);
          const outcome = out.stored ? 'stored' : out.reason;
          d.counter.inc({ kind: r.kind, outcome });
          const fields = { ...base, kind: r.kind, org: r.org, reportId: r.reportId, domains: out.domains, outcome };
          if (out.stored) log.info({ ...fields, rows: out.rows }, 'inbound report stored');
          else log.info(fields, `inbound report not stored (${out.reason})`);
        }
      } catch (err) {
        if (err instanceof StoreUnavailableError) {
          log.error({ ...base, err: err.message }, 'inbound report: store unavailable');
          return { verdict: storeDown };
        }
        throw err;
      }
      return { verdict: received, consume: true };
    },
  };
}
