/**
 * `relais domain check|list`. `check` prints one line per finding (pass/warn/fail) with its fix in
 * French and English, and exits 2 when any finding fails (0 with warnings), so scripts and
 * monitoring can act on it; 1 stays "the command itself failed".
 */
import type { Command } from 'commander';
import { adminCommand, EXIT_FINDINGS_FAIL } from './common.js';
import { apiAction, out, printJson, progress, table } from './output.js';

interface Finding {
  check: string;
  status: 'pass' | 'warn' | 'fail';
  detail: string;
  fix?: { fr: string; en: string };
}

const MARK = { pass: 'PASS', warn: 'WARN', fail: 'FAIL' } as const;

export function registerDomain(program: Command): void {
  const domain = program.command('domain').description('sending domains and their DNS health');

  adminCommand(domain.command('check <domain>').description('DKIM, SPF, DMARC, MX, MTA-STS and TLS-RPT through DNS, each with its fix (exit 2 if any fails)')).action(
    apiAction<[string]>(async (api, [name], o) => {
      const p = progress(`checking DNS records of ${name}`);
      const r = await api.call<{ domain: string; findings: Finding[] }>('GET', `/domains/${encodeURIComponent(name)}/check`).finally(() => p.done());
      const failed = r.findings.some((f) => f.status === 'fail');
      if (o.json) {
        printJson(r);
      } else {
        out(`${r.domain}:`);
        for (const f of r.findings) {
          out(`  ${MARK[f.status] ?? f.status.toUpperCase()}  ${f.check.padEnd(8)} ${f.detail}`);
          if (f.fix && f.status !== 'pass') {
            out(`        fr: ${f.fix.fr}`);
            out(`        en: ${f.fix.en}`);
          }
        }
        const n = (s: string) => r.findings.filter((f) => f.status === s).length;
        out(`${n('pass')} pass, ${n('warn')} warn, ${n('fail')} fail`);
      }
      return failed ? EXIT_FINDINGS_FAIL : 0;
    }),
  );

  adminCommand(domain.command('list').description('sending domains of the tenants'))
    .option('-t, --tenant <id>', 'only this tenant')
    .action(
      apiAction<[]>(async (api, _a, o) => {
        const r = await api.call<{ items: Array<{ domain: string; tenant: string }> }>('GET', `/domains${o.tenant ? `?tenant=${encodeURIComponent(String(o.tenant))}` : ''}`);
        if (o.json) return printJson(r);
        out(table(['DOMAIN', 'TENANT'], r.items.map((d) => [d.domain, d.tenant])));
      }),
    );
}
