/**
 * `relais dmarc list|show DOMAIN` (what the DMARC and TLS reports say) and `relais dnsbl check`
 * (block-list lookups now; exit 2 when a name is listed, like `domain check` with a failure).
 */
import type { Command } from 'commander';
import type { DomainSummary, DomainView, Tally } from '../dmarc/queries.js';
import { adminCommand, EXIT_FINDINGS_FAIL } from './common.js';
import { apiAction, out, printJson, progress, table } from './output.js';

const share = (t: Tally) => (t.share === null ? '-' : `${(t.share * 100).toFixed(1)}%`);

function days(v: unknown): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1 || n > 366) throw new Error(`--days: expected 1 to 366, got ${JSON.stringify(v)}`);
  return n;
}

export function registerReputation(program: Command): void {
  const dmarc = program.command('dmarc').description('DMARC aggregate and TLS reports received for the tenants’ domains');

  adminCommand(dmarc.command('list').description('domains with reports: aligned share of Relais’s mail, mail from other sources'))
    .option('--days <n>', 'days back from today', '30')
    .action(
      apiAction<[]>(async (api, _a, o) => {
        const r = await api.call<{ items: Array<DomainSummary & { tenant?: string }> }>('GET', `/dmarc/domains?days=${days(o.days)}`);
        if (o.json) return printJson(r);
        out(table(['DOMAIN', 'TENANT', 'RELAIS MSGS', 'ALIGNED', 'OTHER MSGS', 'OTHER SOURCES', 'LAST REPORT'], r.items.map((i) => [i.domain, i.tenant ?? '', i.relais.messages, share(i.relais), i.others.messages, i.others.sources, i.lastDay ?? '']), '(no reports yet)'));
      }),
    );

  adminCommand(dmarc.command('show <domain>').description('one domain: by source (relais, mailcow, elsewhere + reverse DNS), by reporter, by day, TLS reports'))
    .option('--days <n>', 'days back from today', '30')
    .action(
      apiAction<[string]>(async (api, [domain], o) => {
        const v = await api.call<DomainView>('GET', `/dmarc/domains/${encodeURIComponent(domain)}?days=${days(o.days)}`);
        if (o.json) return printJson(v);
        out(`${v.domain}: ${v.from} → ${v.to}`);
        out(`  Relais: ${v.relais.messages} messages, ${share(v.relais)} aligned`);
        out(`  others: ${v.others.messages} messages from ${v.others.sources} sources, ${share(v.others)} aligned`);
        out('');
        out(table(['SOURCE', 'LABEL', 'REVERSE DNS', 'MESSAGES', 'ALIGNED', 'DKIM', 'SPF', 'REPORTERS'], v.bySource.map((s) => [s.ip, s.label, s.ptr ?? '', s.messages, share(s), s.dkimAligned, s.spfAligned, s.reporters.join(', ')]), '(no sources)'));
        out('');
        out(table(['REPORTER', 'REPORTS', 'MESSAGES', 'ALIGNED'], v.byReporter.map((r) => [r.org, r.reports, r.messages, share(r)]), '(no reporters)'));
        out('');
        const active = v.byDay.filter((d) => d.relais.messages + d.mailcow.messages + d.elsewhere.messages > 0);
        out(table(['DAY', 'RELAIS', 'ALIGNED', 'MAILCOW', 'ELSEWHERE'], active.map((d) => [d.day, d.relais.messages, share(d.relais), d.mailcow.messages, d.elsewhere.messages]), '(no days with reports)'));
        if (v.tls.length) {
          out('');
          out(table(['TLS REPORTER', 'SUCCESSFUL', 'FAILED', 'FAILURES'], v.tls.map((t) => [t.org, t.successful, t.failed, Object.entries(t.failures).map(([k, n]) => `${k} ${n}`).join(', ')])));
        }
      }),
    );

  const dnsbl = program.command('dnsbl').description('block lists (DNSBL) watched for Relais’s addresses and the tenants’ domains');
  adminCommand(dnsbl.command('check').description('look every address and domain up now (exit 2 if one is listed)')).action(
    apiAction<[]>(async (api, _a, o) => {
      const p = progress('querying block lists');
      const r = await api.call<{ listed: number; items: Array<{ zone: string; name: string; status: string; codes: string[]; delist: string; since?: string }> }>('GET', '/dnsbl?refresh=true').finally(() => p.done());
      if (o.json) printJson(r);
      else {
        out(table(['NAME', 'LIST', 'STATUS', 'CODES', 'SINCE', 'DELISTING'], r.items.map((e) => [e.name, e.zone, e.status.toUpperCase(), e.codes.join(' '), e.since ?? '', e.status === 'listed' ? e.delist : '']), '(nothing to check: no public_ips, pools or tenant domains)'));
        const refused = r.items.filter((e) => e.status === 'refused').length;
        const unanswered = r.items.filter((e) => e.status === 'error').length;
        out(`${r.listed} listed${refused ? `, ${refused} refused (public resolver or over quota: use a local resolver)` : ''}${unanswered ? `, ${unanswered} unanswered (DNS error: not checked)` : ''}`);
      }
      return r.listed > 0 ? EXIT_FINDINGS_FAIL : 0;
    }),
  );
}
