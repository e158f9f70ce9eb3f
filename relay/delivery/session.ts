/**
 * One SMTP client session on an already-connected socket (nodemailer's SMTPConnection):
 * EHLO, STARTTLS as the security level asks, AUTH for the smarthost, then transactions whose
 * RCPT replies are kept per recipient. Nagle is turned off on the socket we hand over.
 */
import type { Socket } from 'node:net';
import { rootCertificates } from 'node:tls';
import type { Readable } from 'node:stream';
import SMTPConnection from 'nodemailer/lib/smtp-connection';
import { DeliveryError, errorToFailure, parseReply } from './reply.js';
import type { ReplyClass } from './reply-class.js';
import type { Phase, SmtpReply } from './types.js';

export type TlsMode = 'opportunistic' | 'require' | 'none' | 'implicit';

export interface SessionParams {
  socket: Socket;
  /** MX host name (SNI, certificate name) — or the IP when there is none. */
  hostname: string;
  port: number;
  ehloName: string;
  tls: TlsMode;
  /** Verify the server certificate (MTA-STS, smarthost). */
  verify: boolean;
  ca: string[];
  auth?: { user: string; pass: string };
  greetingTimeoutMs: number;
  socketTimeoutMs: number;
}

export interface RecipientResult {
  address: string;
  /** True once the server took the message for this recipient. */
  delivered: boolean;
  reply: SmtpReply;
  phase: Phase;
  /** What the reply means (failures only); set by the attempt, the one place replies are classified. */
  class?: ReplyClass;
}

export interface Transaction {
  from: string;
  to: string[];
  size: number;
  body: Readable | Buffer;
}

export class SmtpSession {
  messages = 0;
  private closed = false;
  /** A transaction ended without DATA: RSET before the next one. */
  private dirty = false;
  private onEnd!: () => void;
  /** Resolves once the connection is really gone (the server no longer counts it). */
  readonly ended = new Promise<void>((r) => (this.onEnd = r));

  private constructor(
    private readonly conn: SMTPConnection,
    readonly hostname: string,
    readonly address: string,
  ) {
    conn.on('end', () => {
      this.closed = true;
      this.onEnd();
    });
    conn.on('error', () => (this.closed = true));
  }

  static open(p: SessionParams): Promise<SmtpSession> {
    p.socket.setNoDelay(true);
    const conn = new SMTPConnection({
      connection: p.socket,
      host: p.hostname,
      port: p.port,
      secure: p.tls === 'implicit',
      name: p.ehloName,
      ignoreTLS: p.tls === 'none',
      requireTLS: p.tls === 'require',
      opportunisticTLS: p.tls === 'opportunistic',
      greetingTimeout: p.greetingTimeoutMs,
      socketTimeout: p.socketTimeoutMs,
      socketCloseTimeout: 1000,
      tls: {
        rejectUnauthorized: p.verify,
        ...(p.ca.length ? { ca: [...rootCertificates, ...p.ca] } : {}),
      },
      logger: false,
    });
    const session = new SmtpSession(conn, p.hostname, p.socket.remoteAddress ?? '');
    return new Promise((resolve, reject) => {
      // Some handshake failures (refused STARTTLS...) only surface as 'error'/'end' events.
      conn.once('error', (err) => reject(errorToFailure(err, 'greeting')));
      conn.once('end', () => reject(new DeliveryError({ code: 451, enhanced: '4.4.2', text: 'connection closed during the handshake' }, 'greeting')));
      conn.connect((err) => {
        if (err) return reject(errorToFailure(err, 'greeting'));
        if (!p.auth) return resolve(session);
        conn.login({ user: p.auth.user, pass: p.auth.pass }, (authErr) => {
          if (!authErr) return resolve(session);
          // A refused login is a configuration problem: the auth phase defers, never bounces.
          reject(errorToFailure(authErr, 'auth'));
          conn.close();
        });
      });
    });
  }

  get usable(): boolean {
    return !this.closed;
  }

  get secure(): boolean {
    return this.conn.secure;
  }

  /** One transaction; per-recipient outcome. Never throws. */
  async send(tx: Transaction): Promise<RecipientResult[]> {
    if (this.dirty) {
      try {
        await new Promise<void>((res, rej) => this.conn.reset((err) => (err ? rej(err) : res())));
        this.dirty = false;
      } catch (err) {
        if (!Buffer.isBuffer(tx.body)) tx.body.destroy();
        return this.allFailed(tx.to, errorToFailure(err, 'mail'));
      }
    }
    this.messages++;
    return new Promise((resolve) => {
      this.conn.send({ from: tx.from, to: tx.to, size: tx.size, use8BitMime: true }, tx.body, (err, info) => {
        if (!err && info) {
          const rejected = new Map(info.rejectedErrors?.map((e) => [recipientOf(e), e]) ?? []);
          const accepted = parseReply(info.response) ?? { code: 250, text: info.response };
          return resolve(
            tx.to.map((address) => {
              const e = rejected.get(address);
              if (!e) return { address, delivered: true, reply: accepted, phase: 'data' };
              const f = errorToFailure(e, 'rcpt');
              return { address, delivered: false, reply: f.reply, phase: f.phase };
            }),
          );
        }
        resolve(this.failedTransaction(tx.to, err));
      });
    });
  }

  private failedTransaction(to: string[], err: unknown): RecipientResult[] {
    const e = err as { command?: string; rejectedErrors?: unknown[] };
    const failure = errorToFailure(err, 'data');
    if (!this.closed) this.dirty = true;
    // RCPT-level replies known so far (all recipients refused, or DATA refused after some RCPTs).
    const envelope = (this.conn as unknown as { _envelope?: { rejectedErrors?: unknown[] } })._envelope;
    const rcptErrors = e.rejectedErrors ?? (e.command === 'DATA' ? envelope?.rejectedErrors : undefined) ?? [];
    const perRcpt = new Map(rcptErrors.map((x) => [recipientOf(x), errorToFailure(x, 'rcpt')]));
    return to.map((address) => {
      const f = perRcpt.get(address) ?? failure;
      return { address, delivered: false, reply: f.reply, phase: f.phase };
    });
  }

  private allFailed(to: string[], f: DeliveryError): RecipientResult[] {
    return to.map((address) => ({ address, delivered: false, reply: f.reply, phase: f.phase }));
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    try {
      this.conn.quit();
    } catch {
      this.conn.close();
    }
  }
}

function recipientOf(err: unknown): string {
  return String((err as { recipient?: string }).recipient ?? '');
}
