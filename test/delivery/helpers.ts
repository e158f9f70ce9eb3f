/**
 * Test parts for delivery: scripted destination MXs (real smtp-server instances on 127.0.0.x),
 * a fresh spool in a temp dir, messages written into it, and polling helpers.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer as createNetServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { SMTPServer, type SMTPServerOptions } from 'smtp-server';
import type { Envelope } from '../../relay/spool/envelope.js';
import { startDnsServer, type TestDnsServer } from '../helpers/dns-server.js';
import { Spool } from '../../relay/spool/spool.js';

export const log = pino({ level: process.env.TEST_LOG ?? 'silent' });

/** A scripted reply: "550 5.1.1 No such user". */
export type Scripted = string | undefined;

export interface Received {
  from: string;
  to: string[];
  raw: Buffer;
  mx: string;
  /** Received over TLS (STARTTLS). */
  secure: boolean;
}

export interface TestMx {
  host: string;
  port: number;
  received: Received[];
  /** Connections open now / at most at once / in total. */
  connections: { open: number; max: number; total: number };
  /** Per-recipient RCPT reply (undefined = 250). */
  rcpt: (address: string) => Scripted;
  mail: (address: string) => Scripted;
  data: (to: string[]) => Scripted;
  greeting: () => Scripted;
  /** When set, DATA is answered only once it resolves. */
  hold: Promise<void> | null;
  /** Messages whose DATA has started. */
  dataStarted: number;
  close(): Promise<void>;
}

function scriptedError(s: string): Error {
  const m = /^(\d{3}) (.*)$/.exec(s)!;
  return Object.assign(new Error(m[2]), { responseCode: Number(m[1]) });
}

/** A free TCP port on 127.0.0.1 (the same port is then used on other 127.0.0.x addresses). */
export async function freePort(): Promise<number> {
  const srv = createNetServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const port = (srv.address() as { port: number }).port;
  await new Promise<void>((r) => srv.close(() => r()));
  return port;
}

export async function startMx(host: string, port: number, extra: Partial<SMTPServerOptions> = {}): Promise<TestMx> {
  const mx: TestMx = {
    host,
    port,
    received: [],
    connections: { open: 0, max: 0, total: 0 },
    rcpt: () => undefined,
    mail: () => undefined,
    data: () => undefined,
    greeting: () => undefined,
    hold: null,
    dataStarted: 0,
    close: async () => {
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
  const server = new SMTPServer({
    secure: false,
    authOptional: true,
    disabledCommands: ['STARTTLS'],
    hideENHANCEDSTATUSCODES: true,
    logger: false,
    size: 10 * 1024 * 1024,
    ...extra,
    onConnect(_session, cb) {
      mx.connections.open++;
      mx.connections.total++;
      mx.connections.max = Math.max(mx.connections.max, mx.connections.open);
      const g = mx.greeting();
      cb(g ? scriptedError(g) : undefined);
    },
    onClose() {
      mx.connections.open--;
    },
    onMailFrom(address, _session, cb) {
      const r = mx.mail(address.address);
      cb(r ? scriptedError(r) : undefined);
    },
    onRcptTo(address, _session, cb) {
      const r = mx.rcpt(address.address);
      cb(r ? scriptedError(r) : undefined);
    },
    onData(stream, session, cb) {
      mx.dataStarted++;
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', async () => {
        if (mx.hold) await mx.hold;
        const to = session.envelope.rcptTo.map((r) => r.address);
        const r = mx.data(to);
        if (r) return cb(scriptedError(r));
        mx.received.push({ from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '', to, raw: Buffer.concat(chunks), mx: host, secure: session.secure });
        cb(null, '2.0.0 Ok: queued');
      });
    },
  });
  server.on('error', () => undefined);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  return mx;
}

export interface TestSpool {
  spool: Spool;
  dir: string;
  cleanup(): Promise<void>;
}

export async function openSpool(dir?: string): Promise<TestSpool> {
  const d = dir ?? (await mkdtemp(join(tmpdir(), 'relais-delivery-')));
  const spool = await Spool.open({ dir: d, log, fsync: false });
  return { spool, dir: d, cleanup: () => rm(d, { recursive: true, force: true }) };
}

export interface MessageInput {
  from: string;
  to: string[];
  subject?: string;
  body?: string;
  kind?: Envelope['kind'];
  prependHeaders?: string;
  receivedAt?: number;
  nextAttemptAt?: number;
  /** Newsletter (Listmonk) mail, which gives way to personal mail. */
  newsletter?: boolean;
  pool?: string;
}

/** Writes a message into the spool as the intake would, and returns its envelope. */
export async function enqueue(spool: Spool, m: MessageInput): Promise<Envelope> {
  const subject = m.subject ?? 'Essai';
  const raw =
    `From: <${m.from || 'nobody@example.test'}>\r\nTo: ${m.to.map((t) => `<${t}>`).join(', ')}\r\n` +
    `Subject: ${subject}\r\nMessage-ID: <${Math.random().toString(36).slice(2)}@test>\r\n` +
    `Date: ${new Date().toUTCString()}\r\n\r\n${m.body ?? 'Bonjour.\r\n'}`;
  const w = await spool.createWriter();
  w.write(Buffer.from(raw));
  const now = Date.now();
  const env: Envelope = {
    id: w.id,
    rev: 0,
    state: 'active',
    from: m.from,
    recipients: m.to.map((address) => ({ address, status: 'pending', attempts: 0 })),
    receivedAt: m.receivedAt ?? now,
    size: 0,
    client: { address: '127.0.0.1', tls: false },
    subject,
    kind: m.kind,
    ...(m.newsletter ? { newsletter: true } : {}),
    ...(m.pool ? { pool: m.pool } : {}),
    prependHeaders: m.prependHeaders,
    nextAttemptAt: m.nextAttemptAt ?? now,
    attempts: [],
  };
  await spool.commit(w, env);
  return env;
}

export async function waitFor<T>(fn: () => T | undefined | null | false, what: string, timeoutMs = 10_000): Promise<T> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const v = fn();
    if (v) return v;
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The top-level parts of a multipart message: content type and body (mailparser folds message/delivery-status into the text). */
export function mimeParts(raw: Buffer): Array<{ type: string; body: string }> {
  const s = raw.toString('utf8');
  const boundary = /boundary="([^"]+)"/.exec(s)![1]!;
  return s
    .split(`--${boundary}`)
    .slice(1, -1)
    .map((p) => {
      const [head, ...rest] = p.replace(/^\r\n/, '').split('\r\n\r\n');
      return { type: /^Content-Type: ([^;\r\n]+)/im.exec(head!)![1]!.toLowerCase(), body: rest.join('\r\n\r\n') };
    });
}

/** A destination MX (dest.test, 127.0.0.4) and the senders' MX (sender.test, 127.0.0.5, where DSNs arrive) on one port, with the DNS that names them. */
export interface DestAndSenders {
  port: number;
  dest: TestMx;
  senders: TestMx;
  dns: TestDnsServer;
  close(): Promise<void>;
}

export async function startDestAndSenders(): Promise<DestAndSenders> {
  const port = await freePort();
  const dest = await startMx('127.0.0.4', port);
  const senders = await startMx('127.0.0.5', port);
  const dns = await startDnsServer({
    'dest.test': { MX: [{ exchange: 'mx.dest.test', priority: 10 }] },
    'mx.dest.test': { A: ['127.0.0.4'] },
    'sender.test': { MX: [{ exchange: 'mx.sender.test', priority: 10 }] },
    'mx.sender.test': { A: ['127.0.0.5'] },
  });
  return { port, dest, senders, dns, close: async () => void (await Promise.all([dest.close(), senders.close(), dns.close()])) };
}
