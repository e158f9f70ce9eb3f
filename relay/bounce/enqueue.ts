/**
 * Queues a DSN for the original sender through the spool, like any other message: null sender,
 * kind 'dsn' (so it is never bounced itself). The original headers are streamed from the body.
 */
import type { Envelope } from '../spool/envelope.js';
import type { SpoolApi } from '../spool/spool.js';
import { buildDsn, type DsnAction, type DsnRecipient } from './dsn.js';
import { readHeaderBlock } from './header-reader.js';

/** Relais never answers a bounce with a bounce, nor bounces its own notices. */
export function mayBounce(env: Envelope): boolean {
  return env.from !== '' && env.kind !== 'dsn' && env.kind !== 'notice';
}

export interface QueueDsnInput {
  spool: SpoolApi;
  env: Envelope;
  action: DsnAction;
  recipients: DsnRecipient[];
  hostname: string;
  willRetryUntil?: number;
}

/** Returns the DSN's queue id, or null when the envelope must not be bounced. */
export async function queueDsn(i: QueueDsnInput): Promise<string | null> {
  if (!mayBounce(i.env) || !i.recipients.length) return null;
  const headers = await readHeaderBlock(i.spool.openBody(i.env.id)).catch(() => Buffer.alloc(0));
  const now = Date.now();
  const dsn = buildDsn({
    action: i.action,
    hostname: i.hostname,
    to: i.env.from,
    queueId: i.env.id,
    arrivalDate: i.env.receivedAt,
    recipients: i.recipients,
    headers,
    originalSubject: i.env.subject,
    willRetryUntil: i.willRetryUntil,
    now,
  });
  const w = await i.spool.createWriter();
  // Buffered until the commit below writes it with the envelope trailer (one write, one fsync).
  w.write(dsn.bytes);
  const env: Envelope = {
    id: w.id,
    rev: 0,
    state: 'active',
    from: '',
    recipients: [{ address: i.env.from, status: 'pending', attempts: 0 }],
    receivedAt: now,
    size: dsn.bytes.length,
    client: { name: 'relais-dsn', address: '127.0.0.1', tls: false },
    tenant: i.env.tenant,
    kind: 'dsn',
    messageId: dsn.messageId,
    headerFrom: `MAILER-DAEMON@${i.hostname}`,
    subject: dsn.subject,
    nextAttemptAt: now,
    attempts: [],
    notes: { dsnFor: i.env.id, dsnAction: i.action },
  };
  await i.spool.commit(w, env);
  return env.id;
}
