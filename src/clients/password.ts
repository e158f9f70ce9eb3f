/**
 * Password hashes for SMTP clients: scrypt with a random salt, in a self-describing string
 * "$scrypt$N=16384,r=8,p=1$<salt>$<hash>" (base64). Verification is constant-time. Plain
 * passwords are never stored or logged.
 *
 * scrypt runs in one worker thread of its own, never on libuv's thread pool: that pool (4
 * threads) also serves the spool's writes and fsyncs, and a few connections guessing passwords
 * kept it busy enough to add hundreds of milliseconds to every client's end of DATA. The thread
 * runs at the lowest CPU priority and verifies one password at a time. At most MAX_PENDING wait
 * per priority, beyond that the caller gets ScryptBusyError (answered 454 4.7.0 by the intake):
 * guesses from new addresses fill the low-priority queue only, so a known client (Mailcow at its
 * usual address) is still verified first during a distributed attack.
 */
import { randomBytes, timingSafeEqual, type ScryptOptions } from 'node:crypto';
import { Worker } from 'node:worker_threads';

const DEFAULT = { N: 16384, r: 8, p: 1 };
const MAX_PENDING = 64;

export class ScryptBusyError extends Error {
  constructor() {
    super('password verification queue full');
  }
}

/** CommonJS source of the worker (eval'd, so it runs the same from sources and from dist/). */
const WORKER_SOURCE = `
const { parentPort } = require('node:worker_threads');
const { scryptSync } = require('node:crypto');
// Lowest CPU priority for this thread only (Linux: setpriority on a thread id): under load the
// event loop and the spool's I/O threads go first, password guesses wait.
try {
  const tid = Number(require('node:fs').readlinkSync('/proc/thread-self').split('/').pop());
  if (tid > 0) require('node:os').setPriority(tid, 19);
} catch {}
parentPort.on('message', ({ password, salt, keylen, opts }) => {
  try {
    parentPort.postMessage({ key: scryptSync(password, Buffer.from(salt), keylen, opts) });
  } catch (err) {
    parentPort.postMessage({ error: err.message });
  }
});
`;

interface Job {
  password: string;
  salt: Buffer;
  keylen: number;
  opts: ScryptOptions;
  resolve(key: Buffer): void;
  reject(err: Error): void;
}

let worker: Worker | null = null;
/** Waiting verifications: `high` (a client at an address it authenticated from before) goes first. */
const queues = { high: [] as Job[], low: [] as Job[] };
let current: Job | null = null;
let runs = 0;

/** scrypt computations run so far in this process (each costs the same whatever the outcome). */
export function scryptRuns(): number {
  return runs;
}

function finish(err: Error | null, key?: Buffer): void {
  const job = current;
  current = null;
  if (job) {
    if (err || !key) job.reject(err ?? new Error('scrypt failed'));
    else job.resolve(key);
  }
  next();
}

function scryptWorker(): Worker {
  if (worker) return worker;
  const w = new Worker(WORKER_SOURCE, { eval: true, name: 'relais-scrypt' });
  w.on('message', (m: { key?: Uint8Array; error?: string }) => finish(m.error !== undefined ? new Error(m.error) : null, m.key && Buffer.from(m.key)));
  const gone = (err: Error) => {
    if (worker !== w) return;
    worker = null;
    finish(err);
  };
  w.on('error', gone);
  w.on('exit', (code) => gone(new Error(`scrypt worker exited (${code})`)));
  worker = w;
  return w;
}

/** One job at a time in the worker, so a waiting high-priority job overtakes the low ones. */
function next(): void {
  if (current) return;
  const job = queues.high.shift() ?? queues.low.shift();
  if (!job) {
    // Idle: the worker must not keep a finished CLI command alive.
    worker?.unref();
    return;
  }
  current = job;
  runs++;
  const w = scryptWorker();
  w.ref();
  w.postMessage({ password: job.password, salt: job.salt, keylen: job.keylen, opts: job.opts });
}

function scrypt(password: string, salt: Buffer, keylen: number, opts: ScryptOptions, priority = false): Promise<Buffer> {
  const queue = priority ? queues.high : queues.low;
  if (queue.length >= MAX_PENDING) return Promise.reject(new ScryptBusyError());
  return new Promise((resolve, reject) => {
    queue.push({ password, salt, keylen, opts, resolve, reject });
    next();
  });
}

export async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(16);
  const key = await scrypt(password, salt, 32, { ...DEFAULT, maxmem: 64 * 1024 * 1024 });
  return `$scrypt$N=${DEFAULT.N},r=${DEFAULT.r},p=${DEFAULT.p}$${salt.toString('base64')}$${key.toString('base64')}`;
}

const FORMAT = /^\$scrypt\$N=(\d+),r=(\d+),p=(\d+)\$([A-Za-z0-9+/=]+)\$([A-Za-z0-9+/=]+)$/;

export function isPasswordHash(s: string): boolean {
  return FORMAT.test(s);
}

/** `priority`: the client authenticates from an address it used before (see AuthGuard.known). */
export async function verifyPassword(password: string, hash: string, priority = false): Promise<boolean> {
  const m = FORMAT.exec(hash);
  if (!m) return false;
  const [N, r, p] = [Number(m[1]), Number(m[2]), Number(m[3])];
  const salt = Buffer.from(m[4]!, 'base64');
  const expected = Buffer.from(m[5]!, 'base64');
  const key = await scrypt(password, salt, expected.length, { N, r, p, maxmem: 256 * N * r + 1024 * 1024 }, priority);
  return key.length === expected.length && timingSafeEqual(key, expected);
}

/**
 * A hash of a random password with the default cost: unknown users, disabled clients and clients
 * without a password are checked against it, so every refusal costs one scrypt like a wrong
 * password does (the answer time does not tell which user names exist).
 */
let dummy: Promise<string> | null = null;
export function dummyHash(): Promise<string> {
  dummy ??= hashPassword(randomBytes(16).toString('base64'));
  return dummy;
}
