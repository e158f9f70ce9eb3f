/**
 * Bulk mail from a tenant with a Listmonk is not relayed but handed to its Listmonk as a draft
 * campaign (listmonk-bridge/redirect.ts); without a Listmonk (or without the bridge) it is
 * refused. The first hand-over of a draft is recorded for the admin API and dashboard.
 */
import type { Logger } from 'pino';
import type { Redirector } from '../listmonk-bridge/index.js';
import type { DataContext } from '../relay/intake/hooks.js';
import type { Store } from '../src/store/types.js';
import type { TenantDirectory } from '../src/tenants/directory.js';
import type { Verdict } from './types.js';

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
  /** The draft's campaign id, once the job made it. */
  campaignId?: number;
}

export interface RedirectDeps {
  tenants: TenantDirectory;
  store: Store;
  redirector?: Redirector;
  log: Logger;
}

/** Turns a 'redirect' verdict into the answer of the hand-over (or a reject without Listmonk). */
export function createRedirect(d: RedirectDeps): (ctx: DataContext, v: Verdict) => Promise<Verdict> {
  return async (ctx, v) => {
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
}
