/**
 * The redirect verdict for bulk mail: refuse it (550 5.7.1) with a short French-then-English
 * reply pointing at the tenant's Listmonk, where a campaign draft of the message is waiting.
 *
 * Decided once per message (key: tenant + sender + Message-ID, via store.setIfAbsent): every
 * transaction of that message (Postfix splits large recipient lists) gets the same 550, and only
 * the first one enqueues the draft job. The reply never waits for Listmonk: the job goes to a
 * durable outbox and a background worker creates the draft, retrying while Listmonk is down.
 * Store errors (StoreUnavailableError) propagate: the intake answers a 4xx tempfail then.
 */
import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { Store } from '../src/store/types.js';
import type { ClientOptions } from './client.js';
import type { Fix } from './errors.js';
import { DRAFT_MAX_BYTES, type MessageFileRef } from './draft.js';
import { runDraftJob, type DraftJobPayload, type TenantListmonkConfig } from './draft-job.js';
import { Outbox, createLoop, type OutboxJob, type RunResult, type Worker } from './outbox.js';

export type { TenantListmonkConfig } from './draft-job.js';

export interface Logger {
  info(o: object, msg?: string): void;
  warn(o: object, msg?: string): void;
  error(o: object, msg?: string): void;
}

export interface RedirectRequest {
  tenant: { id: string; listmonk: TenantListmonkConfig };
  /** Envelope sender (MAIL FROM) of the message; the draft's from_email and list owner. */
  sender: string;
  messageId: string;
  /** Recipients of the whole message so far (the policies helper sums split transactions). */
  recipientCount: number;
  /** Where the message content is (end of DATA); absent when refused before DATA. */
  messageFile?: MessageFileRef;
  /** This transaction's recipients (imported only if the tenant enabled import_recipients). */
  recipients: string[];
  /** Why it is redirected; default "<n> destinataires / <n> recipients". */
  reason?: { fr: string; en: string };
}

export interface RedirectVerdict {
  smtp: { code: 550; enhanced: '5.7.1'; text: string; lines: [string, string] };
  /** The outbox job making the draft; `first` is true for the transaction that decided. */
  draft: { jobId: string; first: boolean };
}

export interface RedirectorOptions {
  store: Store;
  log: Logger;
  now?: () => number;
  /** Where copies of redirected messages wait for their draft (default: OS tmpdir/relais-listmonk). */
  dataDir?: string;
  /** Fresh Listmonk settings for a tenant (so a fixed token is used by retries). */
  resolveTenant?: (tenantId: string) => Promise<TenantListmonkConfig | null>;
  client?: ClientOptions;
  /** Back-off of the draft outbox (default 5 s doubling to 15 min) and worker poll (default 5 s). */
  retry?: { backoffMs?: number; maxBackoffMs?: number };
  pollMs?: number;
  /** How long a decision is remembered (default 7 days). */
  decisionTtlMs?: number;
  /** Told once a redirect's draft exists (its job is then forgotten), to keep the campaign id. */
  onDrafted?: (redirectId: string, campaignId: number) => Promise<void>;
}

export interface PendingDraft {
  id: string;
  /** The redirect (draft job id) this job belongs to; an import job of a later transaction has its own id. */
  redirectId: string;
  kind: 'draft' | 'import';
  tenantId: string;
  sender: string;
  messageId: string;
  recipientCount: number;
  attempts: number;
  createdAt: number;
  nextAttemptAt: number;
  lastError?: string;
  /** Stopped on a permanent failure: not retried until `retry(id)`. */
  failed?: { at: number; reason: string; fix: Fix };
  campaignId?: number;
}

export interface BridgeWorker extends Worker {
  /** Unfinished draft jobs (waiting, retrying, or failed) with their last error (for the admin
   * API); tokens are never included. */
  status(): Promise<{ pending: PendingDraft[] }>;
  /** Restarts a job and the other jobs of its redirect (e.g. failed on a permission the admin has
   * since granted); false if none is left. */
  retry(id: string): Promise<boolean>;
}

export interface Redirector {
  redirect(req: RedirectRequest): Promise<RedirectVerdict>;
  worker: BridgeWorker;
}

const sha = (s: string) => createHash('sha256').update(s).digest('hex');

export function redirectText(count: number, publicUrl: string, reason?: { fr: string; en: string }): [string, string] {
  const url = `${publicUrl.replace(/\/+$/, '')}/admin/campaigns`;
  const fr = `Message non envoyé : ${reason?.fr ?? `${count} destinataires`}, c'est un envoi en nombre. Un brouillon vous attend dans Listmonk : ${url}`;
  const en = `Not sent: ${reason?.en ?? `${count} recipients`} is a bulk mailing. A draft is waiting for you in Listmonk: ${url}`;
  return [fr, en];
}

export function createRedirector(o: RedirectorOptions): Redirector {
  const now = o.now ?? Date.now;
  const outbox = new Outbox<DraftJobPayload>(o.store, 'listmonk-drafts', { now, ...o.retry });
  const dir = o.dataDir ?? join(tmpdir(), 'relais-listmonk');
  const ttl = o.decisionTtlMs ?? 7 * 86_400_000;

  async function copyMessage(ref: MessageFileRef, id: string): Promise<string> {
    // A copy of someone's mail: private like the spool (0700/0600), also when dir is under tmpdir().
    await mkdir(dir, { recursive: true, mode: 0o700 });
    const target = join(dir, `${id}.eml`);
    const start = ref.offset ?? 0;
    // One byte past the cap so the draft builder can tell the message was cut.
    await pipeline(createReadStream(ref.path, { start, end: start + DRAFT_MAX_BYTES }), createWriteStream(target, { mode: 0o600 }));
    return target;
  }

  const ctx = { node: outbox.node, clientOptions: o.client, resolveTenant: o.resolveTenant, log: o.log };
  const loop = createLoop(
    () => outbox.runDue(async (job, save) => {
      await runDraftJob(job.payload, save, ctx);
      const { kind, campaignId } = job.payload;
      if (kind === 'draft' && campaignId !== undefined && o.onDrafted) await o.onDrafted(job.id, campaignId).catch((err: unknown) => o.log.warn({ err: String(err), job: job.id }, 'listmonk draft id not recorded'));
    }).then((r: RunResult) => {
      if (r.stopped) o.log.error({ stopped: r.stopped }, 'listmonk draft jobs failed for good: see relais listmonk jobs, fix, then relais listmonk retry');
      if (r.failed > r.stopped) o.log.warn({ failed: r.failed - r.stopped }, 'listmonk draft jobs failed, will retry');
      return r;
    }),
    o.pollMs ?? 5_000,
    (err) => o.log.error({ err: String(err) }, 'listmonk draft worker error'),
  );
  const worker: BridgeWorker = {
    ...loop,
    async status() {
      const jobs: OutboxJob<DraftJobPayload>[] = await outbox.list();
      return {
        pending: jobs.map((j) => ({
          id: j.id, redirectId: j.payload.redirect ?? j.id, kind: j.payload.kind, tenantId: j.payload.tenantId, sender: j.payload.sender, messageId: j.payload.messageId,
          recipientCount: j.payload.recipientCount, attempts: j.attempts, createdAt: j.createdAt, nextAttemptAt: j.nextAttemptAt,
          lastError: j.lastError, failed: j.failed, campaignId: j.payload.campaignId,
        })),
      };
    },
    async retry(id) {
      const ids = (await outbox.list()).filter((j) => j.id === id || j.payload.redirect === id).map((j) => j.id);
      let ok = false;
      for (const jid of ids) ok = (await outbox.retry(jid)) || ok;
      if (ok) loop.kick();
      return ok;
    },
  };

  async function redirect(req: RedirectRequest): Promise<RedirectVerdict> {
    const lm = req.tenant.listmonk;
    const sender = req.sender.toLowerCase();
    const id = sha(`${req.tenant.id}\n${sender}\n${req.messageId}`).slice(0, 32);
    const lines = redirectText(req.recipientCount, lm.public_url ?? lm.url, req.reason);
    const verdict = (first: boolean): RedirectVerdict => ({
      smtp: { code: 550, enhanced: '5.7.1', text: lines.join(' / '), lines },
      draft: { jobId: id, first },
    });
    const payload = (kind: DraftJobPayload['kind'], recipients: string[], file?: string): DraftJobPayload => ({
      kind, tenantId: req.tenant.id, listmonk: lm, sender, messageId: req.messageId, recipientCount: req.recipientCount,
      recipients: lm.import_recipients ? recipients : [], file, node: outbox.node, tag: `relais-${id.slice(0, 16)}`, redirect: id,
    });

    const decisionKey = `listmonk:redirect:${id}`;
    const previous = await o.store.setIfAbsent(decisionKey, JSON.stringify({ at: now(), count: req.recipientCount }), ttl);
    if (previous === null) {
      const file = req.messageFile ? await copyMessage(req.messageFile, id) : undefined;
      await outbox.add(id, payload('draft', req.recipients, file));
      o.log.info({ tenant: req.tenant.id, sender, messageId: req.messageId, recipients: req.recipientCount }, 'bulk message redirected to listmonk');
      worker.kick();
      return verdict(true);
    }
    // A later transaction of the same message: same answer; no second draft.
    // Repair only well after the decision: before that the deciding transaction may still be writing the job.
    const decidedAt = Number((JSON.parse(previous) as { at?: number }).at ?? 0);
    if (now() - decidedAt > 60_000 && (await outbox.repair(id, payload('draft', req.recipients)))) {
      o.log.warn({ id }, 'listmonk draft job re-created after an interrupted redirect');
    } else if (lm.import_recipients && req.recipients.length) {
      const importId = sha(`${id}\n${[...req.recipients].sort().join(',')}`).slice(0, 32);
      if (await outbox.add(importId, payload('import', req.recipients))) worker.kick();
    }
    return verdict(false);
  }

  return { redirect, worker };
}
