/**
 * Password hashes for SMTP clients: scrypt with a random salt, in a self-describing string
 * "$scrypt$N=16384,r=8,p=1$<salt>$<hash>" (base64). Verification is constant-time. Plain
 * passwords are never stored or logged.
 *
 * scrypt runs in one worker thread of its own, never on libuv's thread pool: that pool (4
 * threads) also serves the spool's writes and fsyncs, and a few connections guessing passwords
 * kept it busy enough to add hundreds of milliseconds to every client's end of DATA. The thread
 * runs at the lowest CPU priority, and one thread means one verification at a time; at most MAX_PENDING wait, beyond that the caller gets
 * ScryptBusyError (a temporary failure, answered 454 by the intake).
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
parentPort.on('message', ({ id, password, salt, keylen, opts }) => {
  try {
    const key = scryptSync(password, Buffer.from(salt), keylen, opts);
    parentPort.postMessage({ id, key });
  } catch (err) {
    parentPort.postMessage({ id, error: err.message });
  }
});
`;

interface Pending {
  resolve(key: Buffer): void;
  reject(err: Error): void;
}

let worker: Worker | null = null;
let nextId = 0;
let runs = 0;

/** scrypt computations run so far in this process (each costs the same whatever the outcome). */
export function scryptRuns(): number {
  return runs;
}
const pending = new Map<number, Pending>();

function failAll(err: Error): void {
  for (const p of pending.values()) p.reject(err);
  pending.clear();
  worker = null;
}

function scryptWorker(): Worker {
  if (worker) return worker;
  const w = new Worker(WORKER_SOURCE, { eval: true, name: 'relais-scrypt' });
  w.on('message', (m: { id: number; key?: Uint8Array; error?: string }) => {
    const p = pending.get(m.id);
    if (!p) return;
    pending.delete(m.id);
    // Idle: the worker must not keep a finished CLI command alive.
    if (pending.size === 0) w.unref();
    if (m.error !== undefined || !m.key) p.reject(new Error(m.error ?? 'scrypt failed'));
    else p.resolve(Buffer.from(m.key));
  });
  w.on('error', (err) => failAll(err));
  w.on('exit', (code) => {
    if (worker === w) failAll(new Error(`scrypt worker exited (${code})`));
  });
  w.unref();
  worker = w;
  return w;
}

function scrypt(password: string, salt: Buffer, keylen: number, opts: ScryptOptions): Promise<Buffer> {
  if (pending.size >= MAX_PENDING) return Promise.reject(new ScryptBusyError());
  const w = scryptWorker();
  const id = nextId++;
  runs++;
  return new Promise((resolve, reject) => {
    pending.set(id, { resolve, reject });
    w.ref();
    w.postMessage({ id, password, salt, keylen, opts });
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

export async function verifyPassword(password: string, hash: string): Promise<boolean> {
  const m = FORMAT.exec(hash);
  if (!m) return false;
  const [N, r, p] = [Number(m[1]), Number(m[2]), Number(m[3])];
  const salt = Buffer.from(m[4]!, 'base64');
  const expected = Buffer.from(m[5]!, 'base64');
  const key = await scrypt(password, salt, expected.length, { N, r, p, maxmem: 256 * N * r + 1024 * 1024 });
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
