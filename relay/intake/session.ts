/**
 * One SMTP session's transaction logic, from MAIL FROM to the end of DATA: who the client is,
 * address checks, then the message streamed into the spool through the DATA stage (data guard,
 * header reader; the body to the fingerprint and the hooks' observer). "250 queued" is answered
 * only after the spool commit.
 */
import type { Readable } from 'node:stream';
import type { SMTPServerSession } from 'smtp-server';
import type { Logger } from 'pino';
import type { ClientIdentity, MessageFacts, Verdict } from '../../policies/types.js';
import type { Envelope } from '../spool/envelope.js';
import { SpoolError, type SpoolApi } from '../spool/spool.js';
import { BodyFingerprint } from './body-fingerprint.js';
import { DataGuard } from './data-guard.js';
import { DataStage, stageDone } from './data-stage.js';
import { HeaderReader } from './header-reader.js';
import type { IntakeHooks } from './hooks.js';
import { receivedHeader } from './received.js';
import { REPLIES, smtpError, type SmtpErrorLike } from './replies.js';

export interface SessionClient {
  name: string;
  tenants: string[];
  newsletter: boolean;
  allowNullSender: boolean;
  trusted: boolean;
  authenticated: boolean;
  /** An unknown client on an inbound listener: may only send reports to the bounce domain. */
  anonymous?: boolean;
}

export interface IntakeLimits {
  hostname: string;
  maxMessageSize: number;
  /** smtp.max_header_size: largest header section (552 5.3.4 past it, nothing kept). */
  maxHeaderSize: number;
  /** smtp.max_report_size: largest message to the report addresses (552 5.3.4 past it). */
  maxReportSize: number;
  maxRecipients: number;
  bareNewlines: 'normalize' | 'reject';
}

export function identity(client: SessionClient, address: string): ClientIdentity {
  return { name: client.name, tenants: client.tenants, newsletter: client.newsletter, allowNullSender: client.allowNullSender, trusted: client.trusted, address, authenticated: client.authenticated };
}

export function verdictError(v: Verdict): SmtpErrorLike {
  const s = v.smtp ?? (v.action === 'defer' ? { code: 451, enhanced: '4.7.1', text: 'Message différé / Message deferred' } : { code: 550, enhanced: '5.7.1', text: 'Message refusé / Message refused' });
  return smtpError(s.code, s.enhanced, s.text);
}

function messageIdFor(queueId: string, hostname: string): string {
  return `<${queueId}.${Date.now().toString(36)}@${hostname}>`;
}

export interface DataResult {
  queueId: string;
  verdict: Verdict;
  size: number;
  /** Handled by the hooks (inbound report) and discarded, not queued. */
  consumed?: boolean;
  /** Text of the 250 reply when the hooks consumed the message. */
  reply?: string;
}

/** Streams DATA into the spool and commits or discards it. Throws an SMTP error to answer. */
export async function receiveData(args: {
  stream: Readable & { sizeExceeded?: boolean };
  session: SMTPServerSession;
  client: SessionClient;
  spool: SpoolApi;
  hooks: IntakeHooks;
  limits: IntakeLimits;
  log: Logger;
  pool?: string;
}): Promise<DataResult> {
  const { stream, session, client, spool, hooks, limits } = args;
  const recipients = session.envelope.rcptTo.map((r) => r.address);
  const mailFrom = session.envelope.mailFrom ? session.envelope.mailFrom.address : '';
  let writer;
  try {
    writer = await spool.createWriter();
  } catch (err) {
    await drain(stream);
    throw spoolReply(err);
  }
  const queueId = writer.id;
  const now = new Date();
  // A report (every recipient an address of the report takers) is read once spooled: it gets its own,
  // smaller bound, enforced while it streams in.
  const report = recipients.length > 0 && hooks.reportRecipient !== undefined && recipients.every((r) => hooks.reportRecipient!(r) === 'report');
  const maxBytes = report ? Math.min(limits.maxReportSize, limits.maxMessageSize) : limits.maxMessageSize;
  const guard = new DataGuard(maxBytes, limits.bareNewlines);
  const who = identity(client, session.remoteAddress);
  const fingerprint = hooks.fingerprint?.(who) ? new BodyFingerprint() : undefined;
  const observer = hooks.createObserver?.();
  const onBody =
    fingerprint || observer
      ? (chunk: Buffer) => {
          fingerprint?.update(chunk);
          observer?.update(chunk);
        }
      : undefined;
  const reader = new HeaderReader((present) => {
    let extra = '';
    if (!present.has('message-id')) extra += `Message-ID: ${messageIdFor(queueId, limits.hostname)}\r\n`;
    if (!present.has('date')) extra += `Date: ${now.toUTCString().replace('GMT', '+0000')}\r\n`;
    return extra;
  }, onBody, { maxBytes: limits.maxHeaderSize, memo: !client.anonymous });
  const received = Buffer.from(
    receivedHeader({
      helo: session.hostNameAppearsAs,
      clientHostname: session.clientHostname,
      clientAddress: session.remoteAddress,
      hostname: limits.hostname,
      tls: Boolean(session.secure),
      authenticated: client.authenticated,
      queueId,
      recipients,
      date: now,
    }),
    'utf8',
  );
  // The SMTP stream is piped, not part of the stage: on a spool error it must not be destroyed
  // but drained, so the dialogue stays in sync and the client gets our answer. The writer stays
  // open (and corked, for small messages): the trailer goes in with the message bytes at commit.
  const stage = new DataStage(guard, reader, writer);
  try {
    writer.write(received);
    const done = stageDone(stage);
    stream.pipe(stage);
    await done;
  } catch (err) {
    stream.unpipe(stage);
    await spool.discard(writer);
    await drain(stream);
    throw spoolReply(err);
  }

  if (guard.exceeded || stream.sizeExceeded) {
    await spool.discard(writer);
    throw report && guard.exceeded ? REPLIES.reportTooBig(maxBytes) : REPLIES.tooBig(limits.maxMessageSize);
  }
  if (reader.oversized) {
    await spool.discard(writer);
    throw REPLIES.headerTooBig(limits.maxHeaderSize);
  }
  if (guard.bareNewline && limits.bareNewlines === 'reject') {
    await spool.discard(writer);
    throw REPLIES.bareNewline();
  }

  const facts: MessageFacts = {
    client: who,
    mailFrom,
    recipients,
    headers: reader.facts(),
    size: writer.length,
    bodyFingerprint: fingerprint?.result(),
    now: now.getTime(),
  };
  let decision;
  try {
    decision = await hooks.decide({ queueId, facts, headerBlock: reader.headerBlock, observer, bodyPath: writer.path, flushBody: () => writer.flushQueued() });
  } catch (err) {
    await spool.discard(writer);
    args.log.error({ queueId, err }, 'intake: decision failed');
    throw REPLIES.spoolError();
  }
  const v = decision.verdict;
  if (v.action !== 'accept' && v.action !== 'hold') {
    await spool.discard(writer);
    const e = verdictError(v) as SmtpErrorLike & { verdict?: Verdict; queueId?: string };
    e.verdict = v;
    e.queueId = queueId;
    throw e;
  }
  if (decision.consume) {
    await spool.discard(writer);
    const s = v.smtp;
    return { queueId, verdict: v, size: writer.length, consumed: true, reply: s && s.code < 300 ? `${s.enhanced} ${s.text}` : undefined };
  }
  const h = facts.headers;
  const env: Envelope = {
    id: queueId,
    rev: 0,
    state: v.action === 'hold' ? 'hold' : 'active',
    from: mailFrom,
    recipients: (decision.recipients ?? recipients).map((address) => ({ address, status: 'pending', attempts: 0 })),
    receivedAt: now.getTime(),
    size: 0,
    client: { name: client.name, address: session.remoteAddress, helo: session.hostNameAppearsAs, tls: Boolean(session.secure), user: client.authenticated ? client.name : undefined },
    tenant: v.tenant,
    newsletter: client.newsletter || undefined,
    messageId: h.messageId,
    headerFrom: h.from[0],
    subject: h.subject?.slice(0, 200),
    listmonk: h.listmonkCampaign || h.listmonkSubscriber ? { campaign: h.listmonkCampaign, subscriber: h.listmonkSubscriber } : undefined,
    kind: 'message',
    returnPath: decision.returnPath,
    pool: args.pool,
    prependHeaders: decision.prependHeaders,
    notBefore: v.notBefore,
    nextAttemptAt: Math.max(now.getTime(), v.notBefore ?? 0),
    holdReason: v.action === 'hold' ? (v.holdReason ?? v.reason) : undefined,
    attempts: [],
    notes: decision.notes,
  };
  try {
    await spool.commit(writer, env);
  } catch (err) {
    throw spoolReply(err);
  }
  return { queueId, verdict: v, size: env.size };
}

async function drain(stream: Readable): Promise<void> {
  if (stream.readableEnded || stream.destroyed) return;
  await new Promise<void>((resolve) => {
    stream.once('end', resolve);
    stream.once('close', resolve);
    stream.resume();
  });
}

function spoolReply(err: unknown): SmtpErrorLike {
  if ((err as SmtpErrorLike).responseCode) return err as SmtpErrorLike;
  const code = err instanceof SpoolError ? err.code : (err as NodeJS.ErrnoException)?.code;
  return code === 'ENOSPC' || code === 'EDQUOT' ? REPLIES.spoolFull() : REPLIES.spoolError();
}
