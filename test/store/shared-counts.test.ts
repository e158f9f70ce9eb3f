/**
 * Two nodes on one Redis: window-set sizes answered from a node's recent reading (CounterOp
 * staleMs) and split sums skipped while their index is empty (indexedBy). What Redis receives is
 * watched with MONITOR.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { dropRedisPrefix } from './redis-cleanup.js';
import { openStore } from '../../src/store/open.js';
import type { CounterOp, Store } from '../../src/store/types.js';

const REDIS = 'redis://127.0.0.1:6379';
const DAY = 86_400_000;
const prefix = `test:${randomBytes(6).toString('hex')}:`;
const dir = mkdtempSync(join(tmpdir(), 'relais-shared-'));
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

let a: Store;
let b: Store;
let monitor: Redis;
/** Commands Redis received that name this test's keys. */
const seen: string[][] = [];

beforeAll(async () => {
  a = await openStore({ redisUrl: REDIS, dataDir: join(dir, 'a'), prefix });
  b = await openStore({ redisUrl: REDIS, dataDir: join(dir, 'b'), prefix });
  monitor = await new Redis(REDIS).monitor();
  control = new Redis(REDIS);
  monitor.on('monitor', (_t: string, args: string[]) => { if (args.some((x) => x.includes(prefix))) seen.push(args); });
});
afterAll(async () => {
  monitor.disconnect();
  control.disconnect();
  await a.close();
  await b.close();
  rmSync(dir, { recursive: true, force: true });
  await dropRedisPrefix([prefix]);
});

let control: Redis;
let fences = 0;
/**
 * Everything Redis ran so far has reached the monitor: MONITOR reports commands in the order Redis
 * runs them, so once an ECHO sent now is seen, so is every command before it.
 */
async function fence(): Promise<number> {
  const mark = `${prefix}fence:${++fences}`;
  await control.echo(mark);
  while (!seen.some((args) => args.includes(mark))) await sleep(2);
  return seen.length;
}

/** Runs the ops on a node and says whether Redis saw a call for them. */
async function run(store: Store, ops: CounterOp[]): Promise<{ values: unknown[]; sent: boolean }> {
  const before = await fence();
  const out = await store.countAndConsume(ops, { requests: [], skipIf: [] });
  const after = await fence();
  return { values: out.counters, sent: after - before > 1 };
}

const rcpt = (members: string[], staleMs?: number): CounterOp => ({ kind: 'windowCount', key: '{t:s}rcpt', members, windowMs: DAY, now: Date.now(), staleMs });

describe('window-set sizes from a recent reading (Redis, two nodes)', () => {
  it('answers a known member locally with the size it read, which may lack the other node’s last adds', async () => {
    expect(await run(a, [rcpt(['r1', 'r2'], 1000)])).toEqual({ values: [2], sent: true });
    expect(await run(b, [rcpt(['r3'], 1000)])).toEqual({ values: [3], sent: true });
    // Node a added r1 and read 2 less than a second ago: no round trip, and r3 is not counted yet.
    expect(await run(a, [rcpt(['r1'], 1000)])).toEqual({ values: [2], sent: false });
    // Without staleMs, or with a member it did not add, it asks Redis.
    expect(await run(a, [rcpt(['r1'])])).toEqual({ values: [3], sent: true });
    expect(await run(a, [rcpt(['r2', 'r4'], 1000)])).toEqual({ values: [4], sent: true });
    // Node b's reading (3) is older than a second: it reads again.
    await sleep(1000);
    expect(await run(b, [rcpt(['r3'], 1000)])).toEqual({ values: [4], sent: true });
  });

  it('never misses the node’s own adds, even made outside a batch (windowSetAdd)', async () => {
    const op = (): CounterOp => ({ kind: 'windowCount', key: '{t:s}new', members: [], windowMs: 3_600_000, now: Date.now(), staleMs: 1000 });
    expect((await run(a, [op()])).values).toEqual([0]);
    await a.windowSetAdd('{t:s}new', ['d1.example'], 3_600_000, Date.now());
    expect(await run(a, [op()])).toEqual({ values: [1], sent: false });
  });

  it('does not answer a set while this node has an add to it in flight', async () => {
    const key = '{t:s}conc';
    const op = (members: string[]): CounterOp => ({ kind: 'windowCount', key, members, windowMs: DAY, now: Date.now(), staleMs: 1000 });
    await run(a, [op(['m0'])]);
    const [first, second] = await Promise.all([
      a.countAndConsume([op(['m1'])], { requests: [], skipIf: [] }),
      a.countAndConsume([op(['m0'])], { requests: [], skipIf: [] }),
    ]);
    expect(first.counters).toEqual([2]);
    expect(second.counters).toEqual([2]);
  });

  it('skips a small split transaction’s sum while the mailbox has no sum started, and joins one that is', async () => {
    const ttlMs = 3_600_000;
    const index = (members: string[]): CounterOp => ({ kind: 'windowCount', key: '{t:s}splits', members, windowMs: ttlMs, now: Date.now(), staleMs: members.length ? undefined : 1000 });
    const small = (id: string, by: number): CounterOp[] => [index([]), { kind: 'incr', key: `{t:s}split|${id}`, by, ttlMs, ifExists: true, indexedBy: 0 }];
    const full = (id: string, by: number): CounterOp[] => [index([id]), { kind: 'incr', key: `{t:s}split|${id}`, by, ttlMs }];
    // First read of the (empty) index goes to Redis; then node b knows no sum was started.
    expect(await run(b, small('m1', 3))).toEqual({ values: [0, 3], sent: true });
    expect(await run(b, small('m2', 4))).toEqual({ values: [0, 4], sent: false });
    // Node a starts a sum; its own small part joins it at once.
    expect(await run(a, full('m3', 50))).toEqual({ values: [1, 50], sent: true });
    expect(await run(a, small('m3', 5))).toEqual({ values: [1, 55], sent: true });
    // Node b learns of it within a second.
    await sleep(1000);
    expect(await run(b, small('m3', 2))).toEqual({ values: [1, 57], sent: true });
  });

  it('skips the quota charge when a local answer already makes the message bulk', async () => {
    const req = [{ key: '{t:s}mailbox:x:messages:hour', limit: 10, windowMs: 3_600_000, cost: 1 }];
    await run(a, [rcpt(['r1'], 1000)]);
    const before = await fence();
    const out = await a.countAndConsume([rcpt(['r1'], 1000)], { requests: req, skipIf: [{ op: 0, atLeast: 2 }] });
    expect(out.consume).toBeNull();
    expect(await fence()).toBe(before + 1);
    expect((await a.peek(req))[0]!.used).toBe(0);
  });
});
