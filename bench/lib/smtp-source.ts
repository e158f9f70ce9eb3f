/**
 * Postfix's smtp-source and smtp-sink as load generator and blackhole: the same C client against
 * Relais and against Postfix gives a like-for-like accept-rate ratio.
 */
import { execFile, execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { chownSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { SMTP_SINK, SMTP_SOURCE, freePort } from './postfix.js';
import { killOnExit } from './relay.js';

const run = promisify(execFile);

export const haveSmtpSource = () => existsSync(SMTP_SOURCE);
export const haveSmtpSink = () => existsSync(SMTP_SINK);

export interface SourceRun {
  port: number;
  sessions: number;
  messages: number;
  /** Payload bytes (smtp-source -l; headers not included). */
  size: number;
  /** Reuse the connection for the next message (-d); otherwise one message per connection. */
  reuse: boolean;
  /** Give up after this long (default 120 s). */
  timeoutMs?: number;
  /** Envelope sender (default bench@laruche.example) and recipient (default dest@example.org). */
  from?: string;
  to?: string;
}

/** Runs smtp-source to completion; returns wall-clock seconds and messages per second. */
export async function smtpSource(o: SourceRun): Promise<{ seconds: number; perSecond: number }> {
  const args = ['-s', String(o.sessions), '-m', String(o.messages), '-l', String(o.size), '-M', 'bench.example', '-f', o.from ?? 'bench@laruche.example', '-t', o.to ?? 'dest@example.org', ...(o.reuse ? ['-d'] : []), `127.0.0.1:${o.port}`];
  const t0 = performance.now();
  await run(SMTP_SOURCE, args, { timeout: o.timeoutMs ?? 120_000, maxBuffer: 1 << 20 });
  const seconds = (performance.now() - t0) / 1000;
  return { seconds, perSecond: o.messages / seconds };
}

export interface Sink {
  port: number;
  /** Messages received so far (smtp-sink's running "mesg=" counter). */
  count(): number;
  /** performance.now() when the counter last went up (≈ the last delivery). */
  lastAt(): number;
  stop(): Promise<void>;
}

export interface SinkOptions {
  /** Also write every message to a file in this directory (smtp-sink -d; made writable for it). */
  dumpDir?: string;
}

/** smtp-sink on a free loopback port, counting messages (drops privileges to `postfix` when root). */
export async function startSmtpSink(opts: SinkOptions = {}): Promise<Sink> {
  const port = await freePort();
  const root = process.getuid?.() === 0;
  if (opts.dumpDir && root) chownSync(opts.dumpDir, Number(execFileSync('id', ['-u', 'postfix']).toString().trim()), 0);
  const args = [...(root ? ['-u', 'postfix'] : []), ...(opts.dumpDir ? ['-d', join(opts.dumpDir, 'msg.')] : []), '-c', `127.0.0.1:${port}`, '256'];
  const child: ChildProcess = spawn(SMTP_SINK, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  killOnExit(child);
  let count = 0;
  let lastAt = performance.now();
  let tail = '';
  const onData = (d: Buffer) => {
    tail = (tail + d.toString('latin1')).slice(-200);
    const all = [...tail.matchAll(/mesg=(\d+)/g)];
    const n = all.length ? Number(all.at(-1)![1]) : 0;
    if (n > count) {
      count = n;
      lastAt = performance.now();
    }
  };
  child.stdout!.on('data', onData);
  child.stderr!.on('data', onData);
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  await new Promise((r) => setTimeout(r, 300));
  if (child.exitCode !== null) throw new Error(`smtp-sink exited: ${tail}`);
  return {
    port,
    count: () => count,
    lastAt: () => lastAt,
    async stop() {
      if (child.exitCode === null) {
        child.kill('SIGTERM');
        await exited;
      }
    },
  };
}

export interface Delivered {
  /** Messages the sink received. */
  delivered: number;
  /** performance.now() of the last delivery. */
  lastAt: number;
}

/** Waits until the sink has `expected` messages, or until it has made no progress for `idleMs`. */
export async function waitDelivered(sink: Sink, expected: number, idleMs = 10_000): Promise<Delivered> {
  while (sink.count() < expected && performance.now() - sink.lastAt() < idleMs) await new Promise((res) => setTimeout(res, 50));
  return { delivered: sink.count(), lastAt: sink.lastAt() };
}
