/**
 * Store-backed counters feeding the pure bulk and guard policies. All counters of one message go
 * to the store in one batch (one Redis round trip, one LMDB transaction), under the sender's hash
 * tag (its tenant, else its domain) like its quota counters, so Redis Cluster can serve the batch
 * from one slot.
 */
import { limitKey } from '../../src/store/keys.js';
import type { CounterOp, Store } from '../../src/store/types.js';
import { detectBulk, type BulkHit, type BulkPolicy } from '../bulk.js';
import { hourKey, judgeGuard, usualHourlyVolume, type GuardHit, type GuardPolicy } from '../guard.js';
import { domainOf, normalizeDomain } from '../../src/util/domain.js';
import type { MessageFacts } from '../types.js';
import type { HincrBuffer } from '../../src/store/hincr-buffer.js';
import { stringSeed, type FingerprintSightings } from './fingerprint-sightings.js';
import { BoundedMap } from '../../src/util/bounded-map.js';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;
/**
 * Recipients from which a transaction starts a split sum (sender + Message-ID). Postfix splits a
 * message into parts of smtp_destination_recipient_limit recipients (50 by default) and a last,
 * smaller one: the full parts start the sum and the last one joins it. A transaction with fewer
 * recipients (nearly all person-to-person mail) then costs no new counter; the price is that a
 * small last part arriving before every full one is not counted in the sum of the later ones.
 */
export const SPLIT_START = 10;
/**
 * How old a window set's size may be when a message adds no member to it (CounterOp staleMs):
 * on Redis, the size this node read lately then answers without a round trip. What it may lack
 * is what other nodes added in the last second; a message with a new recipient (or domain) is
 * always counted in Redis.
 */
export const SIGNAL_STALE_MS = 1000;

/** Key of a per-sender signal counter, under the sender's hash tag ("t:<tenant>" or "d:<domain>"). */
export function signalKey(tag: string, name: string): string {
  return limitKey(tag, name);
}

export interface SenderSignals {
  bulk: BulkHit | null;
  /** Null when the guard is off. */
  guard: { hit: GuardHit | null; freshDomains: string[] } | null;
}

/** The sender's own counter keys (computed once per sender, see sender-context.ts). */
export interface SenderKeys {
  /** Hash tag of the sender's counters ("t:<tenant>" or "d:<domain>"). */
  tag: string;
  rcpt: string;
  /** Message-IDs whose split transactions are being summed. */
  splits: string;
  guardVolume: string;
  guardDomains: string;
  guardNew: string;
  /** The mailbox as a number, for the fingerprint sightings' keys. */
  seed: number;
  /** Key prefixes of the per-message sums (+ Message-ID) and copy counts (+ fingerprint). */
  splitPrefix: string;
  fpPrefix: string;
}

export function senderKeys(tag: string, mailbox: string): SenderKeys {
  return {
    tag,
    seed: stringSeed(mailbox),
    splitPrefix: signalKey(tag, `bulk:split:${mailbox}|`),
    fpPrefix: signalKey(tag, `bulk:fp:${mailbox}|`),
    rcpt: signalKey(tag, `bulk:rcpt:${mailbox}`),
    splits: signalKey(tag, `bulk:splits:${mailbox}`),
    guardVolume: guardVolumeKey(tag, mailbox),
    guardDomains: signalKey(tag, `guard:domains:${mailbox}`),
    guardNew: signalKey(tag, `guard:new:${mailbox}`),
  };
}

export interface SignalInput {
  f: MessageFacts;
  mailbox: string;
  keys: SenderKeys;
  bulk: BulkPolicy;
  guard: GuardPolicy;
  /** Guard volume history not yet written to the store (this node's last second). */
  history: HincrBuffer;
  /** Volume histories read in the last second (they lag that much anyway: see HincrBuffer). */
  histories: HistoryCache;
  /** Fingerprints seen on this node (a one-off body is counted here, not in the store). */
  sightings: FingerprintSightings;
}

/**
 * Guard volume histories as read from the store, by key: the (real) time they were read, the
 * history with this node's messages since counted in (recordVolume), its usual hourly volume as
 * seen from `hour`, and the count of `hour` itself. That one is a field of its own: hour keys
 * ("2026112614") are array indexes to V8, so hist[hour] on every message took its slow path.
 */
export type HistoryCache = BoundedMap<CachedHistory>;
interface CachedHistory { at: number; hist: Record<string, number>; hour: string; usual: number; current: number }
const HISTORY_FRESH_MS = 1000;
/** Histories held: keyed by sender, so bytes, not entries (an hour field is counted as 48 bytes). */
export const HISTORY_CACHE_BYTES = 4 * 1024 * 1024;

export function historyCache(): HistoryCache {
  // Fields added by recordVolume after the set are at most the hours until the next read.
  return new BoundedMap<CachedHistory>(HISTORY_CACHE_BYTES, (h) => 128 + 48 * Object.keys(h.hist).length);
}

/** The counter operations of one message, and where each signal's result is in the batch. */
export interface SignalPlan {
  ops: CounterOp[];
  split?: number;
  rcpt: number;
  /** The fingerprint's count: its op in the batch, or the message's own recipients (first copy). */
  fp?: number | { local: number };
  /** Index of the guard's two window sets (known domains, last hour's new ones). */
  guard?: number;
  /** The volume history: the index of its read, or the history itself when read recently. */
  history?: number | CachedHistory;
}

export function planSignals(s: SignalInput): SignalPlan {
  const { f, mailbox, keys, bulk: p, guard: g } = s;
  const rcpts = lowerCased(f.recipients);
  const msgId = f.headers.messageId?.trim().toLowerCase();
  const ops: CounterOp[] = [{ kind: 'windowCount', key: keys.rcpt, members: rcpts, windowMs: DAY, now: f.now, staleMs: SIGNAL_STALE_MS }];
  const plan: SignalPlan = { ops, rcpt: 0 };
  if (msgId) {
    // A small transaction joins a sum that earlier parts started but starts none (see SPLIT_START).
    // The sums a mailbox started are listed in keys.splits: while it is empty (nearly every
    // mailbox, nearly always), a small transaction has no sum to join.
    const ttlMs = p.split_window_minutes * MINUTE;
    const key = keys.splitPrefix + msgId;
    if (rcpts.length < SPLIT_START) {
      const indexedBy = ops.push({ kind: 'windowCount', key: keys.splits, members: [], windowMs: ttlMs, now: f.now, staleMs: SIGNAL_STALE_MS }) - 1;
      plan.split = ops.push({ kind: 'incr', key, by: rcpts.length, ttlMs, ifExists: true, indexedBy }) - 1;
    } else {
      ops.push({ kind: 'windowCount', key: keys.splits, members: [msgId], windowMs: ttlMs, now: f.now });
      plan.split = ops.push({ kind: 'incr', key, by: rcpts.length, ttlMs }) - 1;
    }
  }
  if (f.bodyFingerprint) {
    const fp = f.bodyFingerprint;
    const windowMs = p.fingerprint_window_minutes * MINUTE;
    const seen = s.sightings.see({ mailbox, seed: keys.seed }, fp, rcpts, f.now, windowMs);
    if (seen.first) plan.fp = { local: rcpts.length === 1 ? 1 : new Set(rcpts).size };
    else {
      const key = `${keys.fpPrefix}${fp.h1}.${fp.h2}.${fp.length}`;
      if (seen.earlier) ops.push({ kind: 'windowCount', key, members: seen.earlier.recipients, windowMs, now: seen.earlier.at });
      plan.fp = ops.push({ kind: 'windowCount', key, members: rcpts, windowMs, now: f.now }) - 1;
    }
  }
  if (g.enabled) {
    const domains = recipientDomains(f.recipients);
    const cached = s.histories.get(keys.guardVolume);
    plan.history = cached && Date.now() - cached.at < HISTORY_FRESH_MS ? cached : ops.push({ kind: 'hash', key: keys.guardVolume }) - 1;
    plan.guard = ops.length;
    ops.push(
      { kind: 'windowSet', key: keys.guardDomains, members: domains, windowMs: g.history_days * DAY, now: f.now, staleMs: SIGNAL_STALE_MS },
      // Size only: this message's new domains are added once it is decided (see recordNewDomains).
      { kind: 'windowCount', key: keys.guardNew, members: [], windowMs: HOUR, now: f.now, staleMs: SIGNAL_STALE_MS },
    );
  }
  return plan;
}

/** The addresses in lower case: the same array when they already are (nearly always). */
function lowerCased(list: string[]): string[] {
  for (let i = 0; i < list.length; i++) if (list[i] !== list[i]!.toLowerCase()) return list.map((r) => r.toLowerCase());
  return list;
}

/** The distinct valid domains of the recipients (a set only for long lists). */
function recipientDomains(recipients: readonly string[]): string[] {
  const out: string[] = [];
  const seen = recipients.length > 8 ? new Set<string>() : undefined;
  for (const r of recipients) {
    const d = normalizeDomain(domainOf(r));
    if (d === null || (seen ? seen.has(d) : out.includes(d))) continue;
    seen?.add(d);
    out.push(d);
  }
  return out;
}

/**
 * The counter values at which detectBulk fires (what the store checks to skip the quota charge).
 * Must mirror detectBulk's thresholds; signals known before counting are checked by bulkBeforeCounting.
 */
export function bulkSkipIf(plan: SignalPlan, p: BulkPolicy): { op: number; atLeast: number }[] {
  const out = [{ op: plan.rcpt, atLeast: p.distinct_recipients_per_day }];
  if (plan.split !== undefined) out.push({ op: plan.split, atLeast: p.recipients_per_message });
  if (typeof plan.fp === 'number') out.push({ op: plan.fp, atLeast: p.fingerprint_recipients });
  return out;
}

/**
 * Bulk signals that need no counter: newsletter headers, and the recipients of the message when
 * its split transactions are not summed (`splitCounted` false: no Message-ID, or no store).
 */
export function bulkBeforeCounting(s: SignalInput, splitCounted: boolean, plan?: SignalPlan): BulkHit | null {
  const fingerprintRecipients = typeof plan?.fp === 'object' ? plan.fp.local : undefined;
  return detectBulk({ messageRecipients: splitCounted ? 0 : s.f.recipients.length, fingerprintRecipients, headers: s.f.headers }, s.bulk);
}

/** Bulk and guard signals from the batch's results. */
export function readSignals(s: SignalInput, plan: SignalPlan, out: readonly unknown[]): SenderSignals {
  const { f, guard: g } = s;
  const size = (i: number | undefined) => (i === undefined ? undefined : (out[i] as number));
  const split = plan.split === undefined ? f.recipients.length : (out[plan.split] as number);
  const fingerprintRecipients = typeof plan.fp === 'object' ? plan.fp.local : size(plan.fp);
  const bulkHit = detectBulk({ messageRecipients: split, distinctRecipientsToday: size(plan.rcpt), fingerprintRecipients, headers: f.headers }, s.bulk);
  if (plan.guard === undefined) return { bulk: bulkHit, guard: null };

  const hour = hourKey(f.now);
  const cached = typeof plan.history === 'object' ? plan.history : undefined;
  let h = cached;
  if (!h || h.hour !== hour) {
    // Read now (or the hour changed): the usual volume is worked out once per read. A fresh read
    // lacks this node's increments not yet written; later ones are counted in by recordVolume.
    let hist: Record<string, number>;
    if (h) {
      hist = h.hist;
      hist[h.hour] = h.current;
    } else hist = withPending(s, out[plan.history as number] as Record<string, number>);
    h = { at: h?.at ?? Date.now(), hist, hour, usual: usualHourlyVolume(hist, hour), current: hist[hour] ?? 0 };
    s.histories.set(s.keys.guardVolume, h);
  }
  const known = out[plan.guard] as { size: number; fresh: string[] };
  const recentNew = out[plan.guard + 1] as number;
  const hit = judgeGuard({
    currentHour: h.current + 1,
    usualHourly: h.usual,
    // The fresh domains were not in the history, so not among the last hour's new ones either.
    newDomainsLastHour: recentNew + known.fresh.length,
    knownDomains: known.size - known.fresh.length,
  }, g);
  return { bulk: bulkHit, guard: { hit, freshDomains: known.fresh } };
}

export function guardVolumeKey(tag: string, mailbox: string): string {
  return signalKey(tag, `guard:vol:${mailbox}`);
}

/** A history with this node's increments not yet written. */
function withPending(s: SignalInput, hist: Readonly<Record<string, number>>): Record<string, number> {
  const all: Record<string, number> = { ...hist };
  for (const [h, k] of Object.entries(s.history.pending(s.keys.guardVolume))) all[h] = (all[h] ?? 0) + k;
  return all;
}

/**
 * A message was taken (accepted or held): count it in the mailbox's hourly volume history, and
 * in the copy read recently (the write may land before the next read: it must not be lost then).
 */
export function recordVolume(history: HincrBuffer, histories: HistoryCache, keys: SenderKeys, now: number, g: GuardPolicy): void {
  const hour = hourKey(now);
  history.addOne(keys.guardVolume, hour, 1, (g.history_days + 1) * DAY);
  const cached = histories.get(keys.guardVolume);
  if (!cached) return;
  if (cached.hour === hour) cached.current++;
  else cached.hist[hour] = (cached.hist[hour] ?? 0) + 1;
}

/** Remember the message's never-seen domains as new for an hour. */
export async function recordNewDomains(store: Store, keys: SenderKeys, domains: string[], now: number): Promise<void> {
  if (domains.length) await store.windowSetAdd(keys.guardNew, domains, HOUR, now);
}
