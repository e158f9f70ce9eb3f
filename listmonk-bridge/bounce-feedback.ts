/**
 * Bounce feedback to Listmonk: each bounce or complaint Relais learns about (synchronous refusal
 * at delivery, asynchronous DSN, ARF complaint) is posted to the tenant's `POST /webhooks/bounce`.
 * Posts go through a durable outbox: one job per event, keyed by an idempotency key (a repeated
 * report of the same event is ignored), retried with back-off while Listmonk is unreachable or
 * answers 5xx/429, deleted once it answers 200. A permanent refusal (webhooks off: 404, role without
 * webhooks:post_bounce: 403, 400) stops the job as failed, with the fix, until retried by an admin.
 * UUIDs are checked here, as Listmonk does (cmd/bounce.go validateBounceFields): an invalid one is
 * left out rather than making Listmonk refuse the whole event. Listmonk records webhook bounces without dedup, so each event is posted once;
 * the only possible duplicate is a post whose 200 was lost in transit (at-least-once there).
 * Events older than maxAgeMs (default 7 days) are dropped with an error log.
 */
import { createHash } from 'node:crypto';
import type { Store } from '../src/store/types.js';
import { ListmonkClient, type BounceEvent, type ClientOptions } from './client.js';
import type { TenantListmonkConfig } from './draft-job.js';
import type { Fix } from './errors.js';
import { Outbox, createLoop, type RunResult, type Worker } from './outbox.js';
import type { Logger } from './redirect.js';

export { parseDsn, parseArf, classifyDsn, type DsnReport, type DsnRecipient, type ArfReport } from './reports.js';
export { makeReturnPath, parseReturnPath } from './verp.js';

export interface BounceFeedbackEvent {
  tenantId: string;
  /** Idempotency key of the event, e.g. "<queue id>:<recipient>:dsn". Default: hash of the fields. */
  key?: string;
  email?: string;
  subscriber_uuid?: string;
  campaign_uuid?: string;
  type: 'hard' | 'soft' | 'complaint';
  /** Remote reply, DSN status, reporting MTA… stored by Listmonk as JSON. */
  meta?: Record<string, unknown>;
  /** When it happened (RFC 3339); default: when reported. */
  created_at?: string;
}

export interface BounceFeedbackOptions {
  store: Store;
  log: Logger;
  resolveTenant: (tenantId: string) => Promise<Pick<TenantListmonkConfig, 'url' | 'user' | 'token'> | null>;
  now?: () => number;
  client?: ClientOptions;
  retry?: { backoffMs?: number; maxBackoffMs?: number };
  pollMs?: number;
  maxAgeMs?: number;
}

export interface PendingBounce {
  id: string;
  tenantId: string;
  type: BounceFeedbackEvent['type'];
  email?: string;
  subscriber_uuid?: string;
  campaign_uuid?: string;
  attempts: number;
  createdAt: number;
  nextAttemptAt: number;
  lastError?: string;
  failed?: { at: number; reason: string; fix: Fix };
}

export interface BounceFeedback {
  /** Queues an event; `queued` is false when this key was already reported. */
  report(ev: BounceFeedbackEvent): Promise<{ queued: boolean; id: string }>;
  worker: Worker & { status(): Promise<{ pending: PendingBounce[] }>; retry(id: string): Promise<boolean> };
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const validUuid = (u: string | undefined) => (u && UUID.test(u.trim()) ? u.trim().toLowerCase() : undefined);

interface BounceJob {
  tenantId: string;
  event: BounceEvent;
}

export function bounceEventKey(ev: BounceFeedbackEvent): string {
  const basis = ev.key ?? JSON.stringify([ev.tenantId, ev.email?.toLowerCase(), ev.subscriber_uuid, ev.campaign_uuid, ev.type, ev.created_at]);
  return createHash('sha256').update(`${ev.tenantId}\n${basis}`).digest('hex').slice(0, 32);
}

export function createBounceFeedback(o: BounceFeedbackOptions): BounceFeedback {
  const now = o.now ?? Date.now;
  const maxAge = o.maxAgeMs ?? 7 * 86_400_000;
  const outbox = new Outbox<BounceJob>(o.store, 'listmonk-bounces', { now, ...o.retry });

  async function post(job: BounceJob, createdAt: number): Promise<void> {
    if (now() - createdAt > maxAge) {
      o.log.error({ tenant: job.tenantId, type: job.event.type }, 'listmonk bounce feedback dropped: too old');
      return; // treated as done: the outbox forgets it
    }
    const cfg = await o.resolveTenant(job.tenantId);
    if (!cfg) throw new Error(`tenant ${job.tenantId} has no Listmonk configuration`);
    // The outbox retries; the client makes one attempt per run.
    await new ListmonkClient(cfg, { ...o.client, retries: 0 }).postBounce(job.event);
  }

  const loop = createLoop(
    () =>
      outbox.runDue((job) => post(job.payload, job.createdAt)).then((r) => {
        if (r.stopped) o.log.error({ stopped: r.stopped }, 'listmonk bounce posts failed for good: see GET /api/v1/listmonk/bounces, fix, then relais listmonk retry');
        return r;
      }),
    o.pollMs ?? 5_000,
    (err) => o.log.error({ err: String(err) }, 'listmonk bounce feedback worker error'),
  );

  return {
    async report(ev) {
      const subscriber = validUuid(ev.subscriber_uuid);
      const campaign = validUuid(ev.campaign_uuid);
      if (!ev.email && !subscriber) throw new Error('bounce feedback needs email or subscriber_uuid (a UUID)');
      if (!['hard', 'soft', 'complaint'].includes(ev.type)) throw new Error(`invalid bounce type ${ev.type}`);
      const id = bounceEventKey(ev);
      const event: BounceEvent = {
        ...(ev.email ? { email: ev.email.toLowerCase() } : {}),
        ...(subscriber ? { subscriber_uuid: subscriber } : {}),
        ...(campaign ? { campaign_uuid: campaign } : {}),
        type: ev.type,
        source: 'relais',
        meta: { ...ev.meta, relais_event: id },
        created_at: ev.created_at ?? new Date(now()).toISOString(),
      };
      const queued = await outbox.add(id, { tenantId: ev.tenantId, event });
      if (queued) loop.kick();
      return { queued, id };
    },
    worker: {
      ...loop,
      runOnce: (): Promise<RunResult> => loop.runOnce(),
      async status() {
        const jobs = await outbox.list();
        return {
          pending: jobs.map((j) => ({
            id: j.id, tenantId: j.payload.tenantId, type: j.payload.event.type, email: j.payload.event.email,
            subscriber_uuid: j.payload.event.subscriber_uuid, campaign_uuid: j.payload.event.campaign_uuid,
            attempts: j.attempts, createdAt: j.createdAt, nextAttemptAt: j.nextAttemptAt, lastError: j.lastError, failed: j.failed,
          })),
        };
      },
      async retry(id) {
        const ok = await outbox.retry(id);
        if (ok) loop.kick();
        return ok;
      },
    },
  };
}
