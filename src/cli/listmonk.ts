/**
 * `relais listmonk check|jobs|retry`. `check` prints one PASS/FAIL line per check of a tenant's
 * Listmonk (reach, version, each permission, bounce webhooks) with the fix in French and English,
 * and exits 2 when one fails (1 stays "the command itself failed"). `jobs` lists the redirected bulk
 * messages with the state of their draft job; `retry` restarts a job after its cause was fixed.
 */
import type { Command } from 'commander';
import { adminCommand, EXIT_FINDINGS_FAIL } from './common.js';
import { apiAction, out, printJson, progress, shortTime, table, truncate } from './output.js';

interface Line {
  check: string;
  status: 'pass' | 'fail';
  detail: string;
  fix?: { fr: string; en: string };
}

interface Redirect {
  at: string;
  jobId: string;
  tenant: string;
  sender: string;
  subject?: string;
  recipients: number;
  status: string;
  error?: string;
  fix?: { fr: string; en: string };
}

export function registerListmonk(program: Command): void {
  const lm = program.command('listmonk').description('the Listmonk bridge: checks, draft jobs');

  adminCommand(lm.command('check <tenant>').description("reach the tenant's Listmonk, read its version, try each permission Relais needs, check bounce webhooks (exit 2 if any fails)")).action(
    apiAction<[string]>(async (api, [tenant], o) => {
      const p = progress(`checking the Listmonk of ${tenant}`);
      const r = await api.call<{ tenant: string; url: string; version?: string; ok: boolean; lines: Line[] }>('GET', `/tenants/${encodeURIComponent(tenant)}/listmonk/check`).finally(() => p.done());
      if (o.json) printJson(r);
      else {
        out(`${r.tenant}: ${r.url}${r.version ? ` (${r.version})` : ''}`);
        for (const l of r.lines) {
          out(`  ${l.status === 'pass' ? 'PASS' : 'FAIL'}  ${l.detail}`);
          if (l.fix && l.status === 'fail') {
            out(`        fr: ${l.fix.fr}`);
            out(`        en: ${l.fix.en}`);
          }
        }
        const failed = r.lines.filter((l) => l.status === 'fail').length;
        out(`${r.lines.length - failed} pass, ${failed} fail`);
      }
      return r.ok ? 0 : EXIT_FINDINGS_FAIL;
    }),
  );

  adminCommand(lm.command('jobs').description('bulk messages redirected to Listmonk and the state of their draft (newest first)'))
    .option('-t, --tenant <id>', 'only this tenant')
    .action(
      apiAction<[]>(async (api, _a, o) => {
        const r = await api.call<{ items: Redirect[] }>('GET', `/listmonk/redirects${o.tenant ? `?tenant=${encodeURIComponent(String(o.tenant))}` : ''}`);
        if (o.json) return printJson(r);
        out(table(['JOB', 'AT', 'TENANT', 'SENDER', 'SUBJECT', 'RCPTS', 'STATUS', 'ERROR'], r.items.map((i) => [i.jobId, shortTime(i.at), i.tenant, truncate(i.sender, 40), truncate(i.subject, 40), i.recipients, i.status, truncate(i.error, 80)])));
        for (const i of r.items.filter((x) => x.status === 'failed' && x.fix)) out(`${i.jobId}:\n  fr: ${i.fix!.fr}\n  en: ${i.fix!.en}`);
      }),
    );

  adminCommand(lm.command('retry <job>').description('restart a draft or bounce job now (after fixing what made it fail)')).action(
    apiAction<[string]>(async (api, [job], o) => {
      const r = await api.call<{ id: string; kind: string }>('POST', `/listmonk/jobs/${encodeURIComponent(job)}/retry`);
      if (o.json) return printJson(r);
      out(`${r.kind} job ${r.id}: retry scheduled`);
    }),
  );
}
