/**
 * A lean SMTP load generator over raw sockets (Nagle off): N parallel sessions pull messages from
 * a shared budget; MAIL/RCPT/DATA are pipelined like Postfix's smtp client does. It measures
 * end-of-DATA latency: from the final "." leaving our socket to the server's 250 (the time the
 * server takes to make the message durable and answer).
 */
import { connect, type Socket } from 'node:net';

export interface LoadOptions {
  port: number;
  host?: string;
  /** Source address of the connections (e.g. 127.0.0.2, to be another client of the relay). */
  localAddress?: string;
  sessions: number;
  /** Stop after this many messages in total... */
  maxMessages: number;
  /** ...or after this long (whichever comes first). */
  maxMs?: number;
  /**
   * The whole message (headers + body, CRLF, no dot-stuffing needed), or a factory called with
   * the message's sequence number (unique Message-IDs: see makeMessages).
   */
  message: Buffer | ((seq: number) => Buffer);
  /** One message per connection (connect, EHLO, transaction, QUIT) instead of reusing sessions. */
  perConnection?: boolean;
  recipients?: number;
  /** Envelope sender (default bench@laruche.example). */
  mailFrom?: string;
  /** Recipient i of message seq (default dest<i>@example.org). */
  recipientFor?: (seq: number, i: number) => string;
}

export interface LoadResult {
  messages: number;
  seconds: number;
  perSecond: number;
  mibPerSecond: number;
  /** End-of-DATA latencies in ms, sorted. */
  latencies: number[];
  errors: string[];
}

/** A stuck server must fail the run, not hang the bench. */
const REPLY_TIMEOUT_MS = 60_000;

class Conn {
  private buf = '';
  private waiter?: () => void;
  private closed = false;
  constructor(readonly socket: Socket) {
    socket.setNoDelay(true);
    socket.on('data', (d: Buffer) => {
      this.buf += d.toString('latin1');
      this.waiter?.();
    });
    socket.on('close', () => {
      this.closed = true;
      this.waiter?.();
    });
    socket.on('error', () => undefined);
  }

  static open(port: number, host: string, localAddress?: string): Promise<Conn> {
    return new Promise((resolve, reject) => {
      const s = connect({ port, host, localAddress });
      s.once('connect', () => resolve(new Conn(s)));
      s.once('error', reject);
    });
  }

  /** Next complete reply's code (multi-line replies end at "NNN "). */
  async code(): Promise<number> {
    const deadline = performance.now() + REPLY_TIMEOUT_MS;
    for (;;) {
      let start = 0;
      for (let nl = this.buf.indexOf('\r\n'); nl >= 0; nl = this.buf.indexOf('\r\n', start)) {
        const line = this.buf.slice(start, nl);
        start = nl + 2;
        if (line.length < 4 || line[3] === ' ') {
          this.buf = this.buf.slice(start);
          return Number(line.slice(0, 3));
        }
      }
      if (this.closed) throw new Error('connection closed by server');
      if (performance.now() > deadline) {
        this.socket.destroy();
        throw new Error(`no reply within ${REPLY_TIMEOUT_MS / 1000} s`);
      }
      await new Promise<void>((r) => {
        const t = setTimeout(r, REPLY_TIMEOUT_MS);
        this.waiter = () => {
          clearTimeout(t);
          r();
        };
      });
      this.waiter = undefined;
    }
  }

  write(data: string | Buffer): Promise<void> {
    return new Promise((resolve, reject) => this.socket.write(data, (err) => (err ? reject(err) : resolve())));
  }
}

async function expectCode(c: Conn, want: number, what: string): Promise<void> {
  const got = await c.code();
  if (got !== want) throw new Error(`${what}: expected ${want}, got ${got}`);
}

/** A session opened and greeted (EHLO). */
async function openSession(port: number, host: string, localAddress?: string): Promise<Conn> {
  const c = await Conn.open(port, host, localAddress);
  await expectCode(c, 220, 'greeting');
  await c.write('EHLO bench.example\r\n');
  await expectCode(c, 250, 'EHLO');
  return c;
}

type Transaction = (c: Conn, seq: number) => Promise<{ bytes: number; latencyMs: number }>;

/**
 * One pipelined transaction per call (MAIL, RCPTs and DATA in one write, like Postfix's smtp
 * client); the latency is from the final "." to the 250.
 */
function transaction(o: Pick<LoadOptions, 'message' | 'recipients' | 'mailFrom' | 'recipientFor'>): Transaction {
  const rcpts = o.recipients ?? 1;
  const from = o.mailFrom ?? 'bench@laruche.example';
  const rcptOf = o.recipientFor ?? ((_seq: number, i: number) => `dest${i}@example.org`);
  const messageOf = typeof o.message === 'function' ? o.message : () => o.message as Buffer;
  const envelope = (seq: number, size: number) =>
    `MAIL FROM:<${from}> SIZE=${size}\r\n${Array.from({ length: rcpts }, (_, i) => `RCPT TO:<${rcptOf(seq, i)}>\r\n`).join('')}DATA\r\n`;
  return async (c, seq) => {
    const message = messageOf(seq);
    await c.write(envelope(seq, message.length));
    await expectCode(c, 250, 'MAIL');
    for (let i = 0; i < rcpts; i++) await expectCode(c, 250, 'RCPT');
    await expectCode(c, 354, 'DATA');
    c.socket.write(message);
    await c.write('.\r\n');
    const sent = performance.now();
    await expectCode(c, 250, 'end of DATA');
    return { bytes: message.length, latencyMs: performance.now() - sent };
  };
}

export async function runLoad(o: LoadOptions): Promise<LoadResult> {
  const host = o.host ?? '127.0.0.1';
  const send = transaction(o);
  let bytes = 0;
  const latencies: number[] = [];
  const errors: string[] = [];
  let started = 0;
  let done = 0;
  const t0 = performance.now();
  const deadline = o.maxMs === undefined ? Infinity : t0 + o.maxMs;
  const more = () => started < o.maxMessages && performance.now() < deadline && errors.length < 10;

  const worker = async () => {
    let c: Conn | undefined;
    while (more()) {
      const seq = started++;
      try {
        c ??= await openSession(o.port, host, o.localAddress);
        const r = await send(c, seq);
        latencies.push(r.latencyMs);
        done++;
        bytes += r.bytes;
        if (o.perConnection) {
          await c.write('QUIT\r\n');
          await c.code().catch(() => 0);
          c.socket.destroy();
          c = undefined;
        }
      } catch (err) {
        errors.push((err as Error).message);
        c?.socket.destroy();
        c = undefined;
      }
    }
    if (c) {
      await c.write('QUIT\r\n').catch(() => undefined);
      c.socket.destroy();
    }
  };
  await Promise.all(Array.from({ length: o.sessions }, worker));
  const seconds = (performance.now() - t0) / 1000;
  latencies.sort((a, b) => a - b);
  return { messages: done, seconds, perSecond: done / seconds, mibPerSecond: bytes / seconds / 1048576, latencies, errors };
}

export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

export interface MessageOptions {
  /** From: address (default bench@laruche.example); the Message-ID uses its domain. */
  from?: string;
  /**
   * makeMessages: start each body with a line of its own (letters: the bulk fingerprint ignores
   * digits), so no two messages have the same content, like person-to-person mail.
   */
  uniqueBodies?: boolean;
}

const LINE = 'Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tem\r\n';

function headerBlock(size: number, tag: string, from: string, messageId: string): string {
  return (
    `From: Bench <${from}>\r\nTo: <dest0@example.org>\r\nSubject: ${tag} ${size} octets\r\n` +
    `Date: ${new Date().toUTCString().replace('GMT', '+0000')}\r\nMessage-ID: <${messageId}>\r\n` +
    'MIME-Version: 1.0\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\n'
  );
}

/** A plausible message of about `size` bytes: a few headers and 76-character body lines. */
export function makeMessage(size: number, tag = 'bench', opts: MessageOptions = {}): Buffer {
  const from = opts.from ?? 'bench@laruche.example';
  const head = headerBlock(size, tag, from, `${tag}.${size}.${Date.now()}@${from.split('@')[1]}`);
  const n = Math.max(1, Math.ceil((size - head.length) / LINE.length));
  return Buffer.from(head + LINE.repeat(n), 'latin1');
}

/**
 * Like makeMessage, but each message (by sequence number) gets its own Message-ID, as real mail
 * does: the policies sum split transactions by sender + Message-ID, so a shared ID would look
 * like one message to thousands of recipients. The body is built once and shared.
 */
export function makeMessages(size: number, tag = 'bench', opts: MessageOptions = {}): (seq: number) => Buffer {
  const from = opts.from ?? 'bench@laruche.example';
  const run = `${tag}.${Date.now().toString(36)}.${process.pid}`;
  const probe = headerBlock(size, tag, from, `${run}.0000000@${from.split('@')[1]}`);
  const body = Buffer.from(LINE.repeat(Math.max(1, Math.ceil((size - probe.length) / LINE.length))), 'latin1');
  return (seq) => {
    const head = Buffer.from(headerBlock(size, tag, from, `${run}.${String(seq).padStart(7, '0')}@${from.split('@')[1]}`), 'latin1');
    if (!opts.uniqueBodies) return Buffer.concat([head, body]);
    // The first line is replaced, so the size stays the same.
    const own = `Ref ${letters(seq)} ${tag}`.padEnd(LINE.length - 2, '.').slice(0, LINE.length - 2);
    return Buffer.concat([head, Buffer.from(`${own}\r\n`, 'latin1'), body.subarray(LINE.length)]);
  };
}

/** A number written in letters (a, b, … z, ba, bb, …). */
function letters(n: number): string {
  let out = '';
  do {
    out = String.fromCharCode(97 + (n % 26)) + out;
    n = Math.floor(n / 26);
  } while (n > 0);
  return out;
}

export interface AlternatingOptions extends Omit<LoadOptions, 'maxMessages' | 'maxMs' | 'localAddress' | 'perConnection'> {
  /** Source address of each group's connections; groups take turns, in this order. */
  groups: readonly string[];
  /** Length of one turn. */
  windowMs: number;
  /** Turns per group. */
  turns: number;
  /** Readings taken at each turn's start and end (e.g. CPU times); their deltas are summed per group. */
  meter?: () => number[];
}

export interface AlternatingResult {
  /** Per group: messages answered 250 during each of its turns. */
  counts: number[][];
  /** Per group: each turn's length in seconds (measured). */
  seconds: number[][];
  /** Per group: the meter's deltas summed over its turns. */
  metered: number[][];
  /** Per group: end-of-DATA latencies in ms of the messages counted, sorted. */
  latencies: number[][];
  errors: string[];
}

/**
 * Several groups of sessions (one per source address) opened once and kept open, taking turns of
 * windowMs: during a group's turn only its sessions send. Adjacent turns meet the same machine
 * state (disk, neighbours, GC), so their ratio has far less noise than separate runs, and no
 * turn pays for connection set-up (smtp-server waits 100 ms before each greeting).
 */
export async function runAlternating(o: AlternatingOptions): Promise<AlternatingResult> {
  const host = o.host ?? '127.0.0.1';
  const send = transaction(o);
  const errors: string[] = [];
  const counts = o.groups.map(() => [] as number[]);
  const seconds = o.groups.map(() => [] as number[]);
  const metered = o.groups.map(() => [] as number[]);
  const latencies = o.groups.map(() => [] as number[]);
  let seq = 0;
  let active = -1;
  let finished = false;
  /** Wakes the sessions of a group whose turn starts. */
  const wake = o.groups.map(() => [] as (() => void)[]);
  const open = (g: number): Promise<Conn> => openSession(o.port, host, o.groups[g]);
  const session = async (g: number, c: Conn) => {
    for (;;) {
      while (active !== g && !finished) await new Promise<void>((r) => wake[g]!.push(r));
      if (finished || errors.length >= 10) break;
      try {
        const r = await send(c, seq++);
        // Counted in the turn it is answered in, for the group whose turn that is.
        if (active === g) {
          counts[g]![counts[g]!.length - 1]!++;
          latencies[g]!.push(r.latencyMs);
        }
      } catch (err) {
        errors.push((err as Error).message);
        c.socket.destroy();
        c = await open(g);
      }
    }
    await c.write('QUIT\r\n').catch(() => undefined);
    c.socket.destroy();
  };
  const conns = await Promise.all(o.groups.flatMap((_, g) => Array.from({ length: o.sessions }, () => open(g).then((c) => ({ g, c })))));
  const running = conns.map(({ g, c }) => session(g, c));
  for (let t = 0; t < o.turns && errors.length < 10; t++) {
    for (let g = 0; g < o.groups.length; g++) {
      counts[g]!.push(0);
      active = g;
      const m0 = o.meter?.() ?? [];
      const t0 = performance.now();
      wake[g]!.splice(0).forEach((r) => r());
      await new Promise((r) => setTimeout(r, o.windowMs));
      seconds[g]!.push((performance.now() - t0) / 1000);
      (o.meter?.() ?? []).forEach((v, k) => (metered[g]![k] = (metered[g]![k] ?? 0) + v - m0[k]!));
    }
  }
  finished = true;
  active = -1;
  wake.forEach((w) => w.splice(0).forEach((r) => r()));
  await Promise.all(running);
  latencies.forEach((l) => l.sort((a, b) => a - b));
  return { counts, seconds, metered, latencies, errors };
}
