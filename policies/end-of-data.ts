/**
 * Every check made at end of DATA, in the order it runs. This is the one place a reader learns
 * how a message's verdict is reached; each step's rules live in the module it names.
 *
 *  1. Reports to our own addresses (DSNs and complaints at VERP return paths, DMARC and TLS
 *     reports) are read, not relayed: no sender policy.
 *  2. The policy service (policies/service/): sender authorisation, quotas, bulk and guard.
 *  3. A 'redirect' verdict hands the message to the tenant's Listmonk (policies/redirect.ts).
 *  4. Accepted (or held) mail is DKIM-signed with its From: domain's key and the operator's;
 *     a tenant with `dkim_required` has mail without a From: domain key deferred (451 4.7.5).
 *  5. Accepted newsletter mail must meet the Gmail/Yahoo bulk-sender rules
 *     (policies/newsletter.ts): a breach is flagged, or refused (550 5.7.1) when the tenant's
 *     `newsletter_rules.action` is reject.
 *  6. A hold sends its notice to the mailbox and the admins.
 *  7. The verdict is counted (metrics, stats).
 *  8. Accepted newsletter mail gets a VERP return path (policies/verp.ts).
 */
import type { Logger } from 'pino';
import type { DkimKey } from '../relay/dkim/index.js';
import type { DataContext, Decision, ReportTaker } from '../relay/intake/hooks.js';
import { domainOf } from '../src/util/domain.js';
import type { Metrics } from '../src/metrics.js';
import type { StatsRecorder } from '../src/stats/recorder.js';
import type { TenantDirectory } from '../src/tenants/directory.js';
import { bulkSenderRulesAnswer, dkimRequiredAnswer } from './answers.js';
import { bulkSenderRuleProblems } from './newsletter.js';
import { wantsVerp } from './verp.js';
import type { PolicyService } from './service/index.js';
import type { Verdict } from './types.js';

export interface EndOfDataDeps {
  policy: Pick<PolicyService, 'decide'>;
  tenants: TenantDirectory;
  /** Step 1, when Relais takes inbound reports (a bounce domain is configured). */
  reports?: Pick<ReportTaker, 'isReport' | 'handle'>;
  /** Step 3 (policies/redirect.ts createRedirect). */
  redirect(ctx: DataContext, v: Verdict): Promise<Verdict>;
  /** Step 4: the keys that sign mail from a domain (its own, then the operator's), and the signing. */
  dkim: { keys(fromDomain: string): Promise<DkimKey[]>; sign(ctx: DataContext, keys: DkimKey[]): Promise<string | undefined> };
  /** Step 8, when a bounce domain is configured: stores the VERP record, answers the return path. */
  returnPath?(ctx: DataContext, v: Verdict): Promise<string>;
  /** Step 6: sends a notice through the queue. */
  sendNotice?: (to: string[], subject: string, text: string) => Promise<void>;
  recorder: Pick<StatsRecorder, 'recordVerdict'>;
  metrics: Pick<Metrics, 'verdicts'>;
  log: Logger;
}

export function createEndOfData(d: EndOfDataDeps): (ctx: DataContext) => Promise<Decision> {
  return async (ctx) => {
    const f = ctx.facts;
    // 1. Reports.
    if (d.reports?.isReport(f.recipients)) {
      const r = await d.reports.handle(ctx);
      d.metrics.verdicts.inc({ action: r.verdict.action, reason: r.verdict.reason });
      return r;
    }
    // 2. Policy service.
    let v = await d.policy.decide(f);
    // 3. Redirect to Listmonk.
    if (v.action === 'redirect') v = await d.redirect(ctx, v);

    const fromDomain = domainOf(f.headers.from[0] ?? f.mailFrom);
    const tenant = v.tenant ? (d.tenants.cached() ?? (await d.tenants.snapshot())).tenants.get(v.tenant) : undefined;
    let prependHeaders: string | undefined;
    const notes: Record<string, string> = {};
    if (v.action === 'accept' || v.action === 'hold') {
      // 4. DKIM.
      const keys = await d.dkim.keys(fromDomain);
      const own = keys.some((k) => k.domain === fromDomain);
      if (!own && tenant?.dkim_required) v = { action: 'defer', reason: 'dkim', smtp: dkimRequiredAnswer(fromDomain) };
      else if (keys.length) prependHeaders = await d.dkim.sign(ctx, keys);
      if (!own) notes.dkim = 'unsigned';
      // 5. Bulk-sender rules.
      if (f.client.newsletter && v.action === 'accept') {
        const problems = bulkSenderRuleProblems(f.headers, own);
        if (problems.length) {
          notes.bulkRules = problems.join(', ');
          d.log.warn({ queueId: ctx.queueId, tenant: v.tenant, missing: notes.bulkRules }, 'newsletter mail breaks bulk-sender rules');
          d.metrics.verdicts.inc({ action: 'flag', reason: 'bulk_sender_rules' });
          if (tenant?.newsletter_rules?.action === 'reject') {
            v = { action: 'reject', reason: 'bulk_sender_rules', tenant: v.tenant, smtp: bulkSenderRulesAnswer(notes.bulkRules) };
          }
        }
      }
    }
    // 6. Hold notice.
    if (v.action === 'hold' && v.notice && d.sendNotice) {
      await d.sendNotice(v.notice.to, v.notice.subject, v.notice.text).catch((err: unknown) => d.log.error({ err }, 'hold notice not sent'));
    }
    // 7. Counting.
    d.metrics.verdicts.inc({ action: v.action, reason: v.reason });
    d.recorder.recordVerdict({ at: f.now, tenant: v.tenant, sender: f.mailFrom || '<>', action: v.action, reason: v.reason });
    // 8. VERP return path.
    const returnPath = d.returnPath && wantsVerp(f, v) ? await d.returnPath(ctx, v) : undefined;
    return { verdict: v, prependHeaders, returnPath, notes: Object.keys(notes).length ? notes : undefined };
  };
}
