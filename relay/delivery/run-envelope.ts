/**
 * Delivers what is pending in one envelope: one attempt per destination (in parallel), each
 * result persisted before anything is done about it (observers, DSNs, next attempt), then the
 * envelope is removed when finished or rescheduled with back-off.
 *
 * Crash safety: a recipient is marked delivered in the spool before anyone is told; a bounced
 * status is persisted before its DSN is queued, and the DSN's `bounced` flag after, so a crash
 * in between re-queues the DSN at the next run (at-least-once, never lost).
 */
import type { Logger } from 'pino';
import { queueDsn, mayBounce } from '../bounce/enqueue.js';
import { dsnStatus, type DsnRecipient } from '../bounce/dsn.js';
import { type Envelope, pendingRecipients, type RecipientState } from '../spool/envelope.js';
import { domainOf } from '../../src/util/domain.js';
import { attempt, type AttemptDeps, type AttemptResult, type Parked } from './attempt.js';
import type { ResolvedOptions } from './options.js';
import { applyResults, type Applied, retryDelay } from './outcome.js';
import type { DeliveryObserver } from './types.js';

export interface RunDeps extends AttemptDeps {
  opts: ResolvedOptions;
  observer: DeliveryObserver;
  log: Logger;
  counters: { delivered: number; deferred: number; bounced: number };
}

interface Done {
  domain: string;
  res: AttemptResult;
  applied: Applied;
}

/** What the scheduler needs back: the provider budgets some destinations are waiting for. */
export interface RunOutcome {
  parked: Parked['parked'][];
}

export async function runEnvelope(d: RunDeps, env: Envelope, signal: AbortSignal): Promise<RunOutcome> {
  const pending = pendingRecipients(env);
  const byDomain = new Map<string, string[]>();
  for (const r of pending) {
    const dom = domainOf(r.address);
    byDomain.set(dom, [...(byDomain.get(dom) ?? []), r.address]);
  }
  // One transaction per destination: per domain, or all of them through the smarthost.
  const batches = new Map<string, string[]>();
  for (const [dom, rcpts] of byDomain) {
    const key = d.router.groupKey(dom);
    batches.set(key, [...(batches.get(key) ?? []), ...rcpts]);
  }

  let lock = Promise.resolve();
  const serial = (fn: () => Promise<void>) => (lock = lock.then(fn, fn));
  let outstanding = batches.size;
  let changed = false;
  const notices: Done[] = [];
  const parked: Parked['parked'][] = [];

  await Promise.all(
    [...batches].map(async ([key, rcpts]) => {
      let res: AttemptResult | null = null;
      try {
        const r = await attempt(d, env, key === 'smarthost' ? domainOf(rcpts[0]!) : key, rcpts, signal);
        if ('parked' in r) parked.push(r.parked);
        else res = r;
      } catch (err) {
        if (!signal.aborted) d.log.error({ err, queueId: env.id }, 'delivery: attempt failed unexpectedly');
      }
      await serial(async () => {
        outstanding--;
        if (res) {
          changed = true;
          const now = Date.now();
          // Per recipient domain, so events and records name the right domain in smarthost mode.
          for (const [dom, results] of splitByDomain(res.results)) {
            notices.push({ domain: dom, res, applied: applyResults(env, dom, res.mx, results, now, d.opts.lifetimeMs) });
          }
          if (outstanding > 0) await d.spool.update(env);
        }
        if (outstanding === 0 && (changed || !pending.length)) await finish(d, env);
      });
    }),
  );
  if (!batches.size) await serial(() => finish(d, env));
  await lock;
  d.operatorRetries.delete(env.id);
  if (changed) notify(d, env, notices);
  return { parked };
}

function splitByDomain<T extends { address: string }>(results: T[]): Map<string, T[]> {
  const m = new Map<string, T[]>();
  for (const r of results) {
    const dom = domainOf(r.address);
    m.set(dom, [...(m.get(dom) ?? []), r]);
  }
  return m;
}

/** DSNs and delay warnings, then removal or the next attempt's schedule. */
async function finish(d: RunDeps, env: Envelope): Promise<void> {
  // Deleted during the attempt (admin DELETE): nothing to bounce, warn or reschedule.
  if (!d.spool.has(env.id)) return;
  const now = Date.now();
  const expiry = env.receivedAt + d.opts.lifetimeMs;
  const bounceable = mayBounce(env);
  const toBounce = env.recipients.filter((r) => r.status === 'bounced' && !r.bounced);
  if (toBounce.length && bounceable) {
    if (!(await d.spool.update(env))) return;
    await queueDsn({ spool: d.spool, env, action: 'failed', hostname: d.opts.hostname, recipients: toBounce.map((r) => dsnRecipient(r, now >= expiry)) });
  }
  for (const r of toBounce) r.bounced = true;

  const warnAt = env.receivedAt + d.opts.delayWarningMs;
  if (d.opts.delayWarningMs > 0 && now >= warnAt && bounceable) {
    const late = env.recipients.filter((r) => r.status === 'deferred' && !r.delayWarned);
    if (late.length) {
      await queueDsn({ spool: d.spool, env, action: 'delayed', hostname: d.opts.hostname, recipients: late.map((r) => dsnRecipient(r, false)), willRetryUntil: expiry });
      for (const r of late) r.delayWarned = true;
    }
  }

  const remaining = pendingRecipients(env);
  if (!remaining.length) {
    await d.spool.remove(env.id);
    return;
  }
  const failed = remaining.filter((r) => r.status === 'deferred');
  const n = Math.max(0, ...failed.map((r) => r.attempts));
  const next = failed.length ? now + retryDelay(n, d.opts.retryFirstMs, d.opts.retryMaxMs) : now;
  // The last attempt happens at expiry, so the bounce is not later than the lifetime says.
  env.nextAttemptAt = Math.max(now, Math.min(next, expiry));
  await d.spool.update(env, env.state === 'hold' ? 'hold' : failed.length ? 'deferred' : 'active');
}

function dsnRecipient(r: RecipientState, expired: boolean): DsnRecipient {
  return {
    address: r.address,
    orcpt: r.orcpt,
    status: dsnStatus(r.last, expired),
    reply: r.last ? { code: r.last.code, enhanced: r.last.enhanced, text: r.last.text } : undefined,
    remoteMta: r.last?.remoteMta,
    lastAttemptAt: r.last?.at,
  };
}

function notify(d: RunDeps, env: Envelope, notices: Done[]): void {
  const safe = (fn: () => void) => {
    try {
      fn();
    } catch (err) {
      d.log.error({ err }, 'delivery observer threw');
    }
  };
  for (const { domain, res, applied } of notices) {
    for (const g of applied.groups) {
      d.counters[g.outcome] += g.recipients.length;
      safe(() =>
        d.observer.onAttempt?.({
          env,
          domain,
          mx: res.mx,
          provider: res.provider,
          outcome: g.outcome,
          recipients: g.recipients,
          reply: g.reply,
          phase: g.phase,
          ...(g.class ? { class: g.class } : {}),
          latencyMs: res.latencyMs,
        }),
      );
      d.log.info(
        { queueId: env.id, domain, mx: res.mx, provider: res.provider, outcome: g.outcome, rcpts: g.recipients.length, reply: g.reply, phase: g.phase, ms: res.latencyMs },
        `delivery ${g.outcome}`,
      );
    }
    for (const r of applied.delivered) {
      safe(() => d.observer.onDelivered?.({ env, recipient: r.address, domain, mx: res.mx, reply: r.last! }));
    }
    const classOf = new Map(applied.groups.flatMap((g) => g.recipients.map((a) => [a, g.class] as const)));
    for (const r of applied.bounced) {
      const cls = classOf.get(r.address);
      safe(() => d.observer.onFinalBounce?.({ env, recipient: r.address, domain, mx: res.mx, reply: r.last!, ...(cls ? { class: cls } : {}) }));
    }
  }
}
