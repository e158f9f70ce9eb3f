/**
 * The intake's hooks: the policy verdict, the Listmonk redirect of bulk senders, newsletter
 * checks (RFC 8058 headers, DKIM alignment), VERP return paths for newsletter mail, and DKIM
 * signing of accepted mail (body hash computed while the message streams into the spool).
 */
import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import { DkimBodyHasher, activeSigningKeys, signMessage, type DkimKey } from '../../relay/dkim/index.js';
import type { DataContext, Decision, IntakeHooks } from '../../relay/intake/hooks.js';
import { domainOf } from '../../relay/spool/envelope.js';
import { makeReturnPath, type Redirector } from '../../listmonk-bridge/index.js';
import type { Verdict } from '../../policies/types.js';
import type { PolicyService } from '../../policies/service/index.js';
import type { Metrics } from '../metrics.js';
import type { StatsRecorder } from '../stats/recorder.js';
import type { Store } from '../store/types.js';
import type { TenantDirectory } from '../tenants/directory.js';
import type { InboundReports } from './inbound-reports.js';

export interface VerpRef {
  tenant?: string;
  campaign?: string;
  subscriber?: string;
  recipient: string;
  queueId: string;
}

export const REDIRECTS_NS = 'redirects';

/** One bulk message redirected to Listmonk (the admin API and dashboard list them). */
export interface RedirectRecord {
  at: number;
  tenant: string;
  sender: string;
  messageId: string;
  recipients: number;
  subject?: string;
  jobId: string;
  listmonkUrl: string;
}

export const VERP_TTL_MS = 30 * 86_400_000;
export const verpKey = (ref: string) => `verp:${ref}`;

export interface IntakeHooksDeps {
  policy: PolicyService;
  tenants: TenantDirectory;
  store: Store;
  redirector?: Redirector;
  recorder: StatsRecorder;
  metrics: Metrics;
  log: Logger;
  dkim: { masterKey?: string; operatorDomain?: string };
  bounceDomain?: string;
  /** DSNs and complaints sent to the VERP return paths (consumed, posted to Listmonk). */
  reports?: InboundReports;
  /** Sends a notice (hold of a compromised account) through the queue. */
  sendNotice?: (to: string[], subject: string, text: string) => Promise<void>;
}

const deferAnswer = (enhanced: string, text: string): Verdict => ({ action: 'defer', reason: 'dkim', smtp: { code: 451, enhanced, text } });

export function createIntakeHooks(d: IntakeHooksDeps): IntakeHooks {
  const signingKeys = async (fromDomain: string): Promise<DkimKey[]> => {
    const keys = fromDomain ? await activeSigningKeys(d.store, fromDomain, d.dkim.masterKey) : [];
    if (d.dkim.operatorDomain && d.dkim.operatorDomain !== fromDomain) keys.push(...(await activeSigningKeys(d.store, d.dkim.operatorDomain, d.dkim.masterKey)));
    return keys;
  };

  const redirect = async (ctx: DataContext, v: Verdict): Promise<Verdict> => {
    const tenant = v.tenant ? await d.tenants.get(v.tenant) : undefined;
    if (!d.redirector || !tenant?.listmonk) return { ...v, action: 'reject' };
    const f = ctx.facts;
    await ctx.flushBody();
    const r = await d.redirector.redirect({
      tenant: { id: tenant.id, listmonk: tenant.listmonk },
      sender: f.mailFrom || f.headers.from[0] || '',
      messageId: f.headers.messageId ?? ctx.queueId,
      recipientCount: v.bulk?.count ?? f.recipients.length,
      recipients: f.recipients,
      messageFile: { path: ctx.bodyPath, offset: 0 },
      reason: v.bulk?.what,
    });
    if (r.draft.first) {
      const rec: RedirectRecord = { at: f.now, tenant: tenant.id, sender: f.mailFrom, messageId: f.headers.messageId ?? ctx.queueId, recipients: v.bulk?.count ?? f.recipients.length, subject: f.headers.subject, jobId: r.draft.jobId, listmonkUrl: tenant.listmonk.public_url ?? tenant.listmonk.url };
      await d.store.putDoc(REDIRECTS_NS, r.draft.jobId, rec).catch((err: unknown) => d.log.warn({ err: (err as Error).message }, 'redirect not recorded'));
      d.log.info({ queueId: ctx.queueId, tenant: tenant.id, sender: f.mailFrom, recipients: rec.recipients, job: r.draft.jobId }, 'bulk mail redirected to Listmonk');
    }
    return { ...v, smtp: { code: r.smtp.code, enhanced: r.smtp.enhanced, text: r.smtp.text } };
  };

  return {
    checkSender: (client, mailFrom) => d.policy.checkSender(client, mailFrom),
    createObserver: () => new DkimBodyHasher({ canonicalizations: ['relaxed'] }),
    fingerprint: (client) => d.policy.usesFingerprint(client),
    reportRecipient: d.reports ? (address) => d.reports!.recipientKind(address) : undefined,

    async decide(ctx: DataContext): Promise<Decision> {
      const f = ctx.facts;
      // Reports to our VERP addresses are ours to read, not mail to relay: no sender policy applies.
      if (d.reports?.isReport(f.recipients)) {
        const r = await d.reports.handle(ctx);
        d.metrics.verdicts.inc({ action: r.verdict.action, reason: r.verdict.reason });
        return r;
      }
      let v = await d.policy.decide(f);
      if (v.action === 'redirect') v = await redirect(ctx, v);

      const fromDomain = domainOf(f.headers.from[0] ?? f.mailFrom);
      const tenant = v.tenant ? (d.tenants.cached() ?? (await d.tenants.snapshot())).tenants.get(v.tenant) : undefined;
      let prependHeaders: string | undefined;
      const notes: Record<string, string> = {};
      if (v.action === 'accept' || v.action === 'hold') {
        const keys = await signingKeys(fromDomain);
        const own = keys.some((k) => k.domain === fromDomain);
        if (!own && tenant?.dkim_required) {
          v = deferAnswer('4.7.5', `Aucune clé DKIM pour ${fromDomain}, signature obligatoire : message différé / No DKIM key for ${fromDomain} and signing is required: message deferred`);
        } else if (keys.length) {
          const hashed = (ctx.observer as DkimBodyHasher).result();
          if (hashed.headerBlock) prependHeaders = (await signMessage({ headerBlock: hashed.headerBlock, bodyHashes: hashed.bodyHashes, keys })).join('');
        }
        if (!own) notes.dkim = 'unsigned';
        // Gmail/Yahoo 2024 bulk-sender rules for newsletter mail.
        if (f.client.newsletter && v.action === 'accept') {
          const problems = [!f.headers.listUnsubscribe && 'List-Unsubscribe', !/one-click/i.test(f.headers.listUnsubscribePost ?? '') && 'List-Unsubscribe-Post', !own && 'DKIM alignment'].filter(Boolean);
          if (problems.length) {
            notes.bulkRules = problems.join(', ');
            d.log.warn({ queueId: ctx.queueId, tenant: v.tenant, missing: notes.bulkRules }, 'newsletter mail breaks bulk-sender rules');
            d.metrics.verdicts.inc({ action: 'flag', reason: 'bulk_sender_rules' });
            if (tenant?.newsletter_rules?.action === 'reject') {
              v = { action: 'reject', reason: 'bulk_sender_rules', tenant: v.tenant, smtp: { code: 550, enhanced: '5.7.1', text: `Règles des gros expéditeurs (Gmail/Yahoo) non respectées : ${notes.bulkRules} / Bulk sender requirements not met: ${notes.bulkRules}` } };
            }
          }
        }
      }
      if (v.action === 'hold' && v.notice && d.sendNotice) {
        await d.sendNotice(v.notice.to, v.notice.subject, v.notice.text).catch((err: unknown) => d.log.error({ err }, 'hold notice not sent'));
      }
      d.metrics.verdicts.inc({ action: v.action, reason: v.reason });
      d.recorder.recordVerdict({ at: f.now, tenant: v.tenant, sender: f.mailFrom || '<>', action: v.action, reason: v.reason });

      // Newsletter mail gets a per-message VERP return path so late DSNs find their campaign.
      let returnPath: string | undefined;
      if (d.bounceDomain && f.client.newsletter && v.action === 'accept' && f.mailFrom) {
        const ref = randomBytes(9).toString('base64url').toLowerCase().replace(/[^a-z0-9]/g, '0');
        const rec: VerpRef = { tenant: v.tenant, campaign: f.headers.listmonkCampaign, subscriber: f.headers.listmonkSubscriber, recipient: f.recipients[0] ?? '', queueId: ctx.queueId };
        await d.store.setValue(verpKey(ref), JSON.stringify(rec), VERP_TTL_MS);
        returnPath = makeReturnPath(ref, d.bounceDomain);
      }
      return { verdict: v, prependHeaders, returnPath, notes: Object.keys(notes).length ? notes : undefined };
    },
  };
}
