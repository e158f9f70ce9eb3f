/**
 * Admin operations on queued mail (API and CLI): hold, release, retry now, delete with or
 * without a bounce. Each is one durable spool update; the delivery scheduler reacts to the
 * spool's events, so nothing here talks to delivery directly.
 */
import type { Envelope, QueueState } from './envelope.js';
import { pendingRecipients } from './envelope.js';
import type { SpoolApi } from './spool.js';

export interface QueueFilter {
  state?: QueueState;
  sender?: string;
  recipient?: string;
  domain?: string;
  tenant?: string;
}

export function filterQueue(spool: SpoolApi, f: QueueFilter): Envelope[] {
  const s = f.sender?.toLowerCase();
  const r = f.recipient?.toLowerCase();
  const d = f.domain?.toLowerCase();
  return spool.list(f.state).filter(
    (e) =>
      (!s || e.from.toLowerCase() === s || e.from.toLowerCase().endsWith(`@${s}`)) &&
      (!r || e.recipients.some((x) => x.address.toLowerCase() === r)) &&
      (!d || e.recipients.some((x) => x.address.toLowerCase().endsWith(`@${d}`))) &&
      (!f.tenant || e.tenant === f.tenant),
  );
}

export async function holdMessage(spool: SpoolApi, env: Envelope, reason = 'held by an admin'): Promise<void> {
  if (env.state === 'hold') return;
  env.holdReason = reason;
  await spool.update(env, 'hold');
}

export async function releaseMessage(spool: SpoolApi, env: Envelope): Promise<void> {
  env.holdReason = undefined;
  env.nextAttemptAt = Date.now();
  await spool.update(env, 'active');
}

export async function retryNow(spool: SpoolApi, env: Envelope): Promise<void> {
  if (env.state === 'hold') throw new Error('message is on hold: release it first');
  env.nextAttemptAt = Date.now();
  env.notBefore = undefined;
  await spool.update(env, 'active');
}

/**
 * Deletes a queued message. With `bounce`, the pending recipients are reported to the sender
 * first (through `sendBounce`, which queues a DSN), so nothing disappears silently.
 */
export async function deleteMessage(
  spool: SpoolApi,
  env: Envelope,
  opts: { bounce: boolean; sendBounce?: (env: Envelope, reason: string) => Promise<void> },
): Promise<void> {
  if (opts.bounce && env.from !== '' && env.kind !== 'dsn' && pendingRecipients(env).length && opts.sendBounce) {
    await opts.sendBounce(env, 'Message supprimé par un administrateur / Message deleted by an administrator');
  }
  await spool.remove(env.id);
}
