/**
 * Pure bookkeeping: folds an attempt's per-recipient results into the envelope (statuses,
 * last replies, attempt history) and computes the retry schedule.
 */
import type { AttemptRecord, Envelope, RecipientState } from '../spool/envelope.js';
import type { RecipientResult } from './session.js';
import type { ReplyClass } from './reply-class.js';
import type { Outcome, Phase, SmtpReply } from './types.js';

export interface ReplyGroup {
  outcome: Outcome;
  reply: SmtpReply;
  phase: Phase;
  /** Absent for deliveries. */
  class?: ReplyClass;
  recipients: string[];
}

export interface Applied {
  groups: ReplyGroup[];
  delivered: RecipientState[];
  /** Failed for good: 5xx, or deferred past the message lifetime. */
  bounced: RecipientState[];
}

/** Attempt records kept per envelope (oldest dropped). */
const MAX_HISTORY = 50;

export function applyResults(
  env: Envelope,
  domain: string,
  mx: string | undefined,
  results: RecipientResult[],
  now: number,
  lifetimeMs: number,
): Applied {
  const applied: Applied = { groups: [], delivered: [], bounced: [] };
  const expired = now >= env.receivedAt + lifetimeMs;
  const byKey = new Map<string, ReplyGroup>();
  for (const r of results) {
    const rs = env.recipients.find((x) => x.address === r.address && (x.status === 'pending' || x.status === 'deferred'));
    if (!rs) continue;
    rs.attempts++;
    rs.last = {
      ...r.reply,
      ...(mx ? { remoteMta: mx } : {}),
      at: now,
      ...(r.class ? { category: r.class.category, permanent: r.class.permanent } : {}),
    };
    let outcome: Outcome;
    if (r.delivered) {
      rs.status = 'delivered';
      outcome = 'delivered';
      applied.delivered.push(rs);
    } else if (r.class?.permanent || expired) {
      rs.status = 'bounced';
      outcome = 'bounced';
      applied.bounced.push(rs);
    } else {
      rs.status = 'deferred';
      outcome = 'deferred';
      env.firstDeferredAt ??= now;
    }
    const key = `${outcome}|${r.phase}|${r.reply.code}|${r.reply.enhanced}|${r.reply.text}`;
    let g = byKey.get(key);
    if (!g) byKey.set(key, (g = { outcome, reply: r.reply, phase: r.phase, ...(r.class ? { class: r.class } : {}), recipients: [] }));
    g.recipients.push(r.address);
  }
  applied.groups = [...byKey.values()];
  for (const g of applied.groups) {
    const rec: AttemptRecord = { at: now, domain, outcome: g.outcome, recipients: g.recipients, reply: g.reply };
    if (mx) rec.mx = mx;
    env.attempts.push(rec);
  }
  if (env.attempts.length > MAX_HISTORY) env.attempts.splice(0, env.attempts.length - MAX_HISTORY);
  return applied;
}

/** Delay before attempt n+1 after n failed ones: first, doubling, capped. */
export function retryDelay(failedAttempts: number, firstMs: number, maxMs: number): number {
  const n = Math.max(1, failedAttempts);
  return Math.min(maxMs, firstMs * 2 ** Math.min(n - 1, 30));
}
