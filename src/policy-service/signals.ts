/**
 * Store-backed counters feeding the pure bulk and guard policies.
 */
import type { Store } from '../store/types.js';
import { detectBulk, type BulkHit, type BulkPolicy } from '../../policies/bulk.js';
import { hourKey, judgeGuard, usualHourlyVolume, type GuardHit, type GuardPolicy } from '../../policies/guard.js';
import { domainOf, normalizeDomain } from '../../policies/address.js';
import type { MessageFacts } from '../../policies/types.js';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

/**
 * Bulk signals. Split transactions of one message (same sender + Message-ID) add up, counted
 * before the decision so refused transactions count too. Without the store (local mode) only the
 * per-transaction signals are available.
 */
export async function bulkHit(store: Store | null, f: MessageFacts, mailbox: string, group: string, p: BulkPolicy): Promise<BulkHit | null> {
  const n = f.recipients.length;
  if (!store) return detectBulk({ messageRecipients: n, headers: f.headers }, p);
  const msgId = f.headers.messageId?.trim().toLowerCase();
  const [messageRecipients, distinctRecipientsToday, fingerprintRecipients] = await Promise.all([
    msgId ? store.incrBy(`bulk:split:${mailbox}|${msgId}`, n, p.split_window_minutes * MINUTE) : Promise.resolve(n),
    store.addToWindowSet(`bulk:rcpt:${mailbox}`, f.recipients.map((r) => r.toLowerCase()), DAY, f.now),
    f.bodyFingerprint
      ? store.addToWindowSet(`bulk:fp:${group}:${f.bodyFingerprint}`, f.recipients.map((r) => r.toLowerCase()), p.fingerprint_window_minutes * MINUTE, f.now)
      : Promise.resolve(undefined),
  ]);
  return detectBulk({ messageRecipients, distinctRecipientsToday, fingerprintRecipients, headers: f.headers }, p);
}

/** Compromised-account signals; `record` is called once the message is accepted (or held). */
export async function guardHit(store: Store, f: MessageFacts, mailbox: string, p: GuardPolicy): Promise<{ hit: GuardHit | null; record: () => Promise<void> }> {
  const hour = hourKey(f.now);
  const histKey = `guard:vol:${mailbox}`;
  const record = async (): Promise<void> => {
    await store.hincr(histKey, { [hour]: 1 }, (p.history_days + 1) * DAY).catch(() => undefined);
  };
  // A disabled guard keeps no history: nothing would read it.
  if (!p.enabled) return { hit: null, record: async () => undefined };
  const domains = [...new Set(f.recipients.map((r) => normalizeDomain(domainOf(r) ?? '')).filter((d): d is string => d !== null))];
  const [hist, known] = await Promise.all([
    store.hgetall(histKey),
    store.windowSetAdd(`guard:domains:${mailbox}`, domains, p.history_days * DAY, f.now),
  ]);
  const newDomainsLastHour = await store.addToWindowSet(`guard:new:${mailbox}`, known.fresh, HOUR, f.now);
  const hit = judgeGuard({
    currentHour: (hist[hour] ?? 0) + 1,
    usualHourly: usualHourlyVolume(hist, hour),
    newDomainsLastHour,
    knownDomains: known.size - known.fresh.length,
  }, p);
  return { hit, record };
}
