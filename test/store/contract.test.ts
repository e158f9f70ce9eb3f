/**
 * One contract, two stores: real Redis (unique key prefix per run) and LMDB in a temp dir.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { fork, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, connect, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { dropRedisPrefix } from './redis-cleanup.js';
import { openStore, type OpenStoreOptions } from '../../src/store/open.js';
import { StoreUnavailableError, type CounterOp, type LimitRequest, type Store } from '../../src/store/types.js';
import { limitKey } from '../../src/store/keys.js';
import { chargeTime } from '../../src/store/sliding-log.js';
import { buildStoreForFork } from './fork-build.js';

const REDIS = 'redis://127.0.0.1:6379';
const dirs: string[] = [];
function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'relais-store-'));
  dirs.push(d);
  return d;
}
const prefixes: string[] = [];
afterAll(async () => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
  await dropRedisPrefix(prefixes);
});
const testPrefix = (): string => { const p = `test:${randomBytes(6).toString('hex')}:`; prefixes.push(p); return p; };

const impls: { name: string; options: () => OpenStoreOptions }[] = [
  { name: 'redis', options: () => ({ redisUrl: REDIS, dataDir: tempDir(), prefix: testPrefix() }) },
  { name: 'lmdb', options: () => ({ dataDir: tempDir(), prefix: testPrefix() }) },
];

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const H = 3_600_000;

describe.each(impls)('store contract: $name', ({ name, options }) => {
  let store: Store;
  let opts: OpenStoreOptions;
  beforeAll(async () => {
    opts = options();
    store = await openStore(opts);
  });
  afterAll(() => store.close());

  it('reports its kind', () => {
    expect(store.kind).toBe(name === 'redis' ? 'redis' : 'embedded');
  });

  it('stores documents per namespace', async () => {
    await store.putDoc('tenants', 'b', { id: 'b', n: 2 });
    await store.putDoc('tenants', 'a', { id: 'a', nested: { x: [1, 2] } });
    await store.putDoc('clients', 'a', { other: true });
    expect(await store.getDoc('tenants', 'a')).toEqual({ id: 'a', nested: { x: [1, 2] } });
    expect(await store.getDoc('tenants', 'zz')).toBeNull();
    expect((await store.listDocs('tenants')).map((d) => d.key)).toEqual(['a', 'b']);
    expect(await store.deleteDoc('tenants', 'a')).toBe(true);
    expect(await store.deleteDoc('tenants', 'a')).toBe(false);
    expect(await store.listDocs('tenants')).toEqual([{ key: 'b', value: { id: 'b', n: 2 } }]);
    expect(await store.listDocs('clients')).toEqual([{ key: 'a', value: { other: true } }]);
  });

  it('consumes exactly up to the limit, then refuses with the time room comes back', async () => {
    const req = { key: 'mailbox:exact:messages_per_hour', limit: 3, windowMs: H, cost: 1 };
    const t0 = 1_000_000;
    for (let i = 0; i < 3; i++) expect((await store.consume([req], t0 + i)).allowed).toBe(true);
    const r = await store.consume([req], t0 + 10);
    expect(r.allowed).toBe(false);
    // Room when the oldest charge leaves: its time rounded up to the end of its granule (H/1000).
    expect(r.refused).toMatchObject({ key: req.key, limit: 3, used: 3, resetAt: chargeTime(t0, H) + H });
    expect(r.refused!.resetAt - (t0 + H)).toBeLessThan(H / 1000);
    expect((await store.consume([req], chargeTime(t0, H) + H - 1)).allowed).toBe(false);
    expect((await store.consume([req], chargeTime(t0, H) + H)).allowed).toBe(true);
  });

  it('slides: no burst at a window edge, room exactly when the oldest charge leaves', async () => {
    const req = { key: 'edge', limit: 3, windowMs: 1000, cost: 1 };
    const t = 5_000_000;
    // Three at the end of one "fixed" window...
    for (let i = 0; i < 3; i++) expect((await store.consume([req], t + 900)).allowed).toBe(true);
    // ...nothing more just after the fixed-window boundary.
    expect((await store.consume([req], t + 1100)).allowed).toBe(false);
    expect((await store.consume([req], t + 1899)).allowed).toBe(false);
    const at1900 = await store.consume([req], t + 1900);
    expect(at1900.allowed).toBe(true);
    expect(at1900.states[0]).toMatchObject({ used: 1, resetAt: t + 2900 });
  });

  it('charges a cost (30 recipients count 30) and says when enough frees up', async () => {
    const req = (cost: number) => ({ key: 'rcpt', limit: 50, windowMs: 1000, cost });
    const t = 9_000_000;
    expect((await store.consume([req(30)], t)).allowed).toBe(true);
    expect((await store.consume([req(15)], t + 100)).allowed).toBe(true);
    const r = await store.consume([req(30)], t + 200);
    expect(r.allowed).toBe(false);
    // 45 used; 30 more needs 25 freed: the 30 charged at t leave at t + 1000.
    expect(r.refused).toMatchObject({ used: 45, resetAt: t + 1000 });
    expect((await store.consume([req(5)], t + 200)).states[0].used).toBe(50);
    expect((await store.consume([req(30)], t + 1000)).allowed).toBe(true);
  });

  it('is all-or-nothing over several limits', async () => {
    const tag = 't:all';
    const a = { key: limitKey(tag, 'mailbox:a'), limit: 10, windowMs: H, cost: 1 };
    const d = { key: limitKey(tag, 'domain:d'), limit: 2, windowMs: H, cost: 1 };
    const t = 20_000_000;
    expect((await store.consume([a, d], t)).allowed).toBe(true);
    expect((await store.consume([a, d], t)).allowed).toBe(true);
    const r = await store.consume([a, d], t);
    expect(r.allowed).toBe(false);
    expect(r.refused?.key).toBe(d.key);
    const [pa, pd] = await store.peek([a, d], t);
    expect(pa.used).toBe(2);
    expect(pd.used).toBe(2);
    await store.resetLimits([d.key]);
    expect((await store.peek([d], t))[0]).toMatchObject({ used: 0, resetAt: t });
    expect((await store.consume([a, d], t)).allowed).toBe(true);
    expect((await store.peek([a], t))[0]).toMatchObject({ used: 3, resetAt: chargeTime(t, H) + H });
  });

  it('reserves future slots in order for pacing (never refuses)', async () => {
    const req = { key: 'pace', limit: 2, windowMs: 1000, cost: 1 };
    const t = 30_000_000;
    const ats: number[] = [];
    for (let i = 0; i < 5; i++) ats.push((await store.reserve([req], t)).at);
    expect(ats).toEqual([t, t, t + 1000, t + 1000, t + 2000]);
    // At t + 2500 only the booking at t + 2000 is in the window: one slot now, the next at t + 3000.
    expect((await store.reserve([req], t + 2500)).at).toBe(t + 2500);
    const next = await store.reserve([req], t + 2500);
    expect(next.at).toBe(t + 3000);
    expect(next.states[0]).toMatchObject({ used: 3, resetAt: t + 4000 });
  });

  it('counts running sums with a TTL', async () => {
    expect(await store.incrBy('split:x', 50, 60_000)).toBe(50);
    expect(await store.incrBy('split:x', 50, 60_000)).toBe(100);
    expect(await store.incrBy('short', 1, 50)).toBe(1);
    await sleep(120);
    expect(await store.incrBy('short', 1, 50)).toBe(1);
  });

  it('keeps windowed sets of distinct members and says which are new', async () => {
    const t = 40_000_000;
    expect(await store.windowSetAdd('ws', ['a', 'b', 'a'], 1000, t)).toEqual({ size: 2, fresh: ['a', 'b'] });
    expect(await store.windowSetAdd('ws', ['b', 'c'], 1000, t + 500)).toEqual({ size: 3, fresh: ['c'] });
    // 'a' was added at t and left the window at t + 1000; 'b' was refreshed at t + 500.
    expect(await store.windowSetAdd('ws', ['a'], 1000, t + 1000)).toEqual({ size: 3, fresh: ['a'] });
    expect(await store.addToWindowSet('ws', [], 1000, t + 1600)).toBe(1);
  });

  it('runs a batch of counter operations, each with the effect of its single call', async () => {
    const t = 50_000_000;
    await store.hincr('{b}h', { x: 2 }, 60_000);
    const counters = async (ops: CounterOp[]) => (await store.countAndConsume(ops, { requests: [], skipIf: [] })).counters;
    const [sum, set, hash, sum2] = await counters([
      { kind: 'incr', key: '{b}sum', by: 3, ttlMs: 60_000 },
      { kind: 'windowSet', key: '{b}set', members: ['a', 'b'], windowMs: 1000, now: t },
      { kind: 'hash', key: '{b}h' },
      { kind: 'incr', key: '{b}sum', by: 4, ttlMs: 60_000 },
    ]);
    expect(sum).toBe(3);
    expect(sum2).toBe(7);
    expect(set).toEqual({ size: 2, fresh: ['a', 'b'] });
    expect(hash).toEqual({ x: 2 });
    const [again, none] = await counters([
      { kind: 'windowSet', key: '{b}set', members: ['b', 'c'], windowMs: 1000, now: t + 10 },
      { kind: 'hash', key: '{b}nothing' },
    ]);
    expect(again).toEqual({ size: 3, fresh: ['c'] });
    expect(none).toEqual({});
    expect(await store.incrBy('{b}sum', 0, 60_000)).toBe(7);
    expect(await counters([])).toEqual([]);
  });

  it('counts then consumes in one step, skipping the consume when a counter reaches its threshold', async () => {
    const t = 60_000_000;
    const req = [{ key: limitKey('t:cc', 'mailbox:a@x:messages'), limit: 2, windowMs: H, cost: 1 }, { key: limitKey('t:cc', 'tenant:cc:messages'), limit: 5, windowMs: H, cost: 1 }];
    const ops = (rcpt: string) => [
      { kind: 'incr', key: '{t:cc}split', by: 1, ttlMs: 60_000 },
      { kind: 'windowSet', key: '{t:cc}rcpt', members: [rcpt], windowMs: H, now: t },
      { kind: 'hash', key: '{t:cc}vol' },
    ] as const;
    const skipIf = [{ op: 0, atLeast: 100 }, { op: 1, atLeast: 3 }];
    const a = await store.countAndConsume(ops('r1'), { requests: req, now: t, skipIf });
    expect(a.counters).toEqual([1, { size: 1, fresh: ['r1'] }, {}]);
    expect(a.consume).toMatchObject({ allowed: true, states: [{ used: 1 }, { used: 1 }] });
    const b = await store.countAndConsume(ops('r2'), { requests: req, now: t + 1, skipIf });
    expect(b.consume).toMatchObject({ allowed: true, states: [{ used: 2 }, { used: 2 }] });
    // The third distinct recipient reaches the threshold: counted, but no quota used.
    const c = await store.countAndConsume(ops('r3'), { requests: req, now: t + 2, skipIf });
    expect(c.counters[1]).toEqual({ size: 3, fresh: ['r3'] });
    expect(c.consume).toBeNull();
    expect((await store.peek(req, t + 3)).map((s) => s.used)).toEqual([2, 2]);
    // Below the thresholds again (threshold raised): the mailbox limit refuses, nothing is charged.
    const d = await store.countAndConsume(ops('r1'), { requests: req, now: t + 4, skipIf: [{ op: 1, atLeast: 10 }] });
    expect(d.consume).toMatchObject({ allowed: false, refused: { key: req[0]!.key, used: 2 } });
    expect((await store.peek(req, t + 5)).map((s) => s.used)).toEqual([2, 2]);
    // No quota requests: counters only.
    const e = await store.countAndConsume(ops('r4'), { requests: [], skipIf: [] });
    expect(e.counters[0]).toBe(5);
    expect(e.consume).toBeNull();
  });

  it('charges through countAndConsume exactly as through consume (model check over granules, expiry, refusals, bookings)', async () => {
    // Two copies of the same limits: one charged by the message call, one by consume. Steps in one
    // granule, across granules and past the window, with costs that hit the limits, and pacing
    // bookings ahead of time between them: both must answer and count alike at every step.
    const set = (side: string) => [
      { key: limitKey('t:mc', `${side}:mailbox`), limit: 12, windowMs: 10_000, cost: 1 },
      { key: limitKey('t:mc', `${side}:tenant`), limit: 40, windowMs: 60_000, cost: 1 },
    ];
    const [viaMessage, viaConsume] = [set('m'), set('c')];
    const withCost = (reqs: ReturnType<typeof set>, cost: number) => reqs.map((r, i) => ({ ...r, cost: i === 0 ? cost : cost + 1 }));
    let now = 90_000_000;
    const seen = { allowed: 0, refused: 0 };
    for (let step = 0; step < 160; step++) {
      now += [0, 3, 9, 40, 700, 2_500, 11_000][(step * 5) % 7]!;
      const cost = 1 + (step % 3);
      if (step % 23 === 11) {
        const [a, b] = [await store.reserve(withCost(viaMessage, 1), now), await store.reserve(withCost(viaConsume, 1), now)];
        expect(a, `reserve at step ${step}`).toEqual({ ...b, states: b.states.map((s, i) => ({ ...s, key: viaMessage[i]!.key })) });
        continue;
      }
      const a = (await store.countAndConsume([{ kind: 'incr', key: `{t:mc}split:${step}`, by: cost, ttlMs: 60_000 }], { requests: withCost(viaMessage, cost), now, skipIf: [] })).consume!;
      const b = await store.consume(withCost(viaConsume, cost), now);
      const strip = (r: typeof a) => ({ allowed: r.allowed, refused: r.refused && { ...r.refused, key: '' }, states: r.states.map((s) => ({ ...s, key: '' })) });
      expect(strip(a), `step ${step} at +${now - 90_000_000} ms`).toEqual(strip(b));
      seen[a.allowed ? 'allowed' : 'refused']++;
    }
    expect(seen.allowed).toBeGreaterThan(40);
    expect(seen.refused).toBeGreaterThan(40);
    expect((await store.peek(viaMessage, now)).map((s) => s.used)).toEqual((await store.peek(viaConsume, now)).map((s) => s.used));
  });

  it('stays exact with many concurrent message calls (batched on one round trip)', async () => {
    const request = [{ key: limitKey('t:conc', 'mailbox:conc@x'), limit: 50, windowMs: H, cost: 1 }, { key: limitKey('t:conc', 'tenant:conc'), limit: 1000, windowMs: H, cost: 2 }];
    const results = await Promise.all(Array.from({ length: 200 }, (_, i) =>
      store.countAndConsume([{ kind: 'incr', key: `{t:conc}split:${i}`, by: 1, ttlMs: 60_000 }, { kind: 'windowSet', key: '{t:conc}rcpt', members: [`r${i % 7}`], windowMs: H, now: 95_000_000 + i }], { requests: request, now: 95_000_000 + i, skipIf: [] })));
    expect(results.filter((r) => r.consume?.allowed)).toHaveLength(50);
    // Each call saw its own counters, in order.
    expect(results.map((r) => r.counters[0])).toEqual(results.map(() => 1));
    expect(Math.max(...results.map((r) => (r.counters[1] as { size: number }).size))).toBe(7);
    expect((await store.peek(request, 95_000_200)).map((s) => s.used)).toEqual([50, 100]);
  });

  it('keeps window-set sizes and fresh members exact over a long run (model check)', async () => {
    const t0 = 70_000_000;
    const win = 1000;
    const model = new Map<string, number>();
    for (let step = 0; step < 120; step++) {
      const now = t0 + step * 37;
      const members = [`m${(step * 7) % 23}`, `m${(step * 3) % 23}`];
      for (const [m, ts] of model) if (ts <= now - win) model.delete(m);
      const fresh = [...new Set(members)].filter((m) => !model.has(m));
      for (const m of members) model.set(m, now);
      expect(await store.windowSetAdd('model', members, win, now), `step ${step}`).toEqual({ size: model.size, fresh });
    }
  });

  it('adds to an existing sum only, with ifExists', async () => {
    const op = (by: number, ifExists?: boolean) => ({ kind: 'incr', key: '{t:ie}sum', by, ttlMs: 60_000, ifExists }) as const;
    const run = async (o: ReturnType<typeof op>) => (await store.countAndConsume([o], { requests: [], skipIf: [] })).counters[0];
    // No sum yet: counted alone, nothing started.
    expect(await run(op(3, true))).toBe(3);
    expect(await run(op(4, true))).toBe(4);
    // A sum started by a plain incr is joined.
    expect(await run(op(50))).toBe(50);
    expect(await run(op(5, true))).toBe(55);
    expect(await run(op(1))).toBe(56);
  });

  it('counts window sets exactly with windowCount, trimmed or not (model check)', async () => {
    const t0 = 72_000_000;
    const win = 4000; // trimmed at most once a second per node: most steps do not trim
    const model = new Map<string, number>();
    for (let step = 0; step < 150; step++) {
      const now = t0 + step * 137;
      const members = step % 5 === 0 ? [] : [`m${(step * 7) % 31}`, `m${(step * 3) % 31}`, `m${(step * 7) % 31}`];
      for (const [m, ts] of model) if (ts <= now - win) model.delete(m);
      for (const m of members) model.set(m, now);
      const r = await store.countAndConsume([{ kind: 'windowCount', key: '{t:wc}set', members, windowMs: win, now }], { requests: [], skipIf: [] });
      expect(r.counters, `step ${step}`).toEqual([model.size]);
    }
  });

  it('sets if absent, gets, sets, deletes values; TTLs expire', async () => {
    expect(await store.setIfAbsent('idem:1', 'first', 60_000)).toBeNull();
    expect(await store.setIfAbsent('idem:1', 'second', 60_000)).toBe('first');
    await store.setValue('v', 'x');
    expect(await store.getValue('v')).toBe('x');
    await store.deleteValue('v');
    expect(await store.getValue('v')).toBeNull();
    await store.setValue('ttl', 'y', 50);
    expect(await store.getValue('ttl')).toBe('y');
    await sleep(120);
    expect(await store.getValue('ttl')).toBeNull();
    expect(await store.setIfAbsent('ttl', 'z', 1000)).toBeNull();
  });

  it('keeps hash counters and finds them by prefix', async () => {
    await store.hincr('stats:verdicts:2026112614', { 'la-ruche|a@x|accept|ok': 1, 'la-ruche|a@x|defer|quota': 2 }, H);
    await store.hincr('stats:verdicts:2026112614', { 'la-ruche|a@x|accept|ok': 3 }, H);
    await store.hincr('stats:verdicts:2026112615', { f: 1 }, H);
    await store.hincr('stats:other', { f: 1 }, H);
    expect(await store.hgetall('stats:verdicts:2026112614')).toEqual({ 'la-ruche|a@x|accept|ok': 4, 'la-ruche|a@x|defer|quota': 2 });
    expect(await store.hgetall('stats:none')).toEqual({});
    expect(await store.scanKeys('stats:verdicts:')).toEqual(['stats:verdicts:2026112614', 'stats:verdicts:2026112615']);
  });

  it('adds several hash counters in one call', async () => {
    await store.hincrMany([
      { key: 'many:a', fields: { x: 1, y: 2 }, ttlMs: H },
      { key: 'many:b', fields: { x: 5 }, ttlMs: H },
      { key: 'many:a', fields: { x: 10 }, ttlMs: H },
    ]);
    expect(await store.hgetall('many:a')).toEqual({ x: 11, y: 2 });
    expect(await store.hgetall('many:b')).toEqual({ x: 5 });
  });

  it('delivers published messages to subscribers of another connection', async () => {
    const other = await openStore(opts);
    const got: string[] = [];
    const unsubscribe = await other.subscribe('tenants', (m) => got.push(m));
    await store.publish('tenants', 'changed:la-ruche');
    await store.publish('elsewhere', 'nope');
    for (let i = 0; i < 50 && got.length === 0; i++) await sleep(20);
    expect(got).toEqual(['changed:la-ruche']);
    await unsubscribe();
    await store.publish('tenants', 'after');
    await sleep(250);
    expect(got).toEqual(['changed:la-ruche']);
    await other.close();
  });

  it('persists across reopen', async () => {
    await store.putDoc('settings', 'k', { kept: true });
    const again = await openStore(opts);
    expect(await again.getDoc('settings', 'k')).toEqual({ kept: true });
    await again.close();
  });
});

interface WorkerReport { allowed: number; failed: number; error?: string }
type Worker = { child: ChildProcess; report: Promise<WorkerReport> };

/** Forks a store worker (race-worker.mjs) and waits until it has opened the store. */
async function forkWorker(openJs: string, storeOptions: OpenStoreOptions, request: unknown, attempts: number, mode: 'race' | 'hold' = 'race'): Promise<Worker> {
  const child = fork(resolve(import.meta.dirname, 'race-worker.mjs'), [JSON.stringify({ openJs, storeOptions, request, attempts, mode })]);
  await new Promise((ok) => child.once('message', ok));
  const report = new Promise<WorkerReport>((ok, ko) => {
    child.once('message', (m: WorkerReport) => ok(m));
    child.once('exit', (code) => code !== 0 && ko(new Error(`worker exited ${code}`)));
  });
  return { child, report };
}

/**
 * Forked processes race on one Redis limit (race-worker.mjs), then report: messages allowed,
 * calls failed, and the usage the store shows once they have closed.
 */
async function raceOnRedis(request: LimitRequest[], processes: number, attempts: number): Promise<{ allowed: number; failed: number; used: number }> {
  const build = buildStoreForFork();
  const opts = impls[0]!.options();
  const store = await openStore(opts);
  try {
    const workers = await Promise.all(Array.from({ length: processes }, () => forkWorker(build.openJs, opts, request, attempts)));
    for (const w of workers) w.child.send('go');
    const reports = await Promise.all(workers.map((w) => w.report));
    return {
      allowed: reports.reduce((a, r) => a + r.allowed, 0),
      failed: reports.reduce((a, r) => a + r.failed, 0),
      used: (await store.peek(request))[0]!.used,
    };
  } finally {
    await store.close();
    build.cleanup();
  }
}

describe('redis store shared by processes', () => {
  it('stays exact when several processes race on one limit', async () => {
    const request = [{ key: limitKey('t:race', 'mailbox:race@x'), limit: 50, windowMs: H, cost: 1 }];
    const { allowed, failed, used } = await raceOnRedis(request, 4, 30);
    expect(allowed).toBe(50);
    expect(failed).toBe(0);
    expect(used).toBe(50);
  });
});

describe('redis store: counted window sets', () => {
  it('keeps an expiry on every counted set, even one recreated between two trims', async () => {
    const opts = impls[0]!.options();
    const store = await openStore(opts);
    const redis = new Redis(REDIS);
    try {
      const win = 64_000; // granule 1 s, expiry = window + granule + 1 s
      const count = (members: string[], now: number) =>
        store.countAndConsume([{ kind: 'windowCount', key: '{t:ttl}set', members, windowMs: win, now }], { requests: [], skipIf: [] });
      const key = `${opts.prefix}{t:ttl}set`;
      const now = Date.now();
      expect((await count(['a'], now)).counters).toEqual([1]);
      const ttl = await redis.pttl(key);
      expect(ttl).toBeGreaterThan(win);
      expect(ttl).toBeLessThanOrEqual(win + 2000);
      // Not due for a trim: the expiry is left as it was (no renewal on every call).
      expect((await count(['b'], now + 10)).counters).toEqual([2]);
      expect(await redis.pttl(key)).toBeLessThanOrEqual(ttl);
      // The key vanished (evicted, deleted): recreated between two trims, it still gets an expiry.
      await redis.del(key);
      expect((await count(['c'], now + 20)).counters).toEqual([1]);
      expect(await redis.pttl(key)).toBeGreaterThan(win);
    } finally {
      redis.disconnect();
      await store.close();
    }
  });
});

describe('redis store: quota credits on large limits', () => {
  const message = (store: Store, request: LimitRequest[], i: number) =>
    store.countAndConsume([{ kind: 'incr', key: `{t:credit}split:${i}`, by: 1, ttlMs: 60_000 }], { requests: request, skipIf: [] });

  it('charges ahead, spends locally, and gives back what a granule leaves unspent', async () => {
    const opts = impls[0]!.options();
    const store = await openStore(opts);
    try {
      // 1 000 000 ms window: a granule of 1 s. Limit large enough for credit.
      const request = [{ key: limitKey('t:credit', 'tenant:credit'), limit: 100_000, windowMs: 1_000_000, cost: 1 }];
      for (let i = 0; i < 5; i++) expect((await message(store, request, i)).consume?.allowed).toBe(true);
      // Credit is charged with the first messages: usage runs ahead of the 5 accepted...
      expect((await store.peek(request))[0].used).toBeGreaterThan(5);
      // ...until the granule ends and the unspent part goes back.
      await sleep(1600);
      expect((await store.peek(request))[0].used).toBe(5);
    } finally {
      await store.close();
    }
  });

  it('never lets several processes past the limit, mixing credit with exact consumes', async () => {
    const request = [{ key: limitKey('t:race', 'tenant:credit-race'), limit: 1200, windowMs: H, cost: 1 }];
    const { allowed, failed, used } = await raceOnRedis(request, 3, 600);
    expect(failed).toBe(0);
    expect(allowed).toBeLessThanOrEqual(1200);
    // Near the limit credits shrink to nothing: little room is left stranded.
    expect(allowed).toBeGreaterThanOrEqual(1180);
    // The workers closed their stores: unspent credit went back, usage is what was accepted.
    expect(used).toBe(allowed);
  });
});

describe('embedded store: counters live in one process', () => {
  const request = [{ key: limitKey('t:own', 'mailbox:own@x'), limit: 50, windowMs: H, cost: 1 }];

  it('stays exact with many concurrent callers', async () => {
    const store = await openStore(impls[1]!.options());
    const results = await Promise.all(Array.from({ length: 200 }, () => store.consume(request)));
    expect(results.filter((r) => r.allowed)).toHaveLength(50);
    expect((await store.peek(request))[0].used).toBe(50);
    await store.close();
  });

  it('tempfails a second process while the first owns the counters, then hands them over with their usage', async () => {
    const build = buildStoreForFork();
    const opts = impls[1]!.options();
    const store = await openStore(opts);
    try {
      for (let i = 0; i < 20; i++) expect((await store.consume(request)).allowed).toBe(true);
      // Documents stay shared; counters are refused with StoreUnavailableError (a 4xx for mail).
      const second = await forkWorker(build.openJs, opts, request, 5);
      second.child.send('go');
      const refused = await second.report;
      expect(refused).toMatchObject({ allowed: 0, failed: 5 });
      expect(refused.error).toMatch(/StoreUnavailableError: .*in use by process/);
      // Once the owner closes, the next process takes over and sees the 20 charges.
      await store.close();
      const third = await forkWorker(build.openJs, opts, request, 40);
      third.child.send('go');
      expect(await third.report).toMatchObject({ allowed: 30, failed: 0 });
    } finally {
      build.cleanup();
    }
  });

  it('keeps the charges of a process killed with -9 (written behind within 500 ms) and takes its counters over', async () => {
    const build = buildStoreForFork();
    const opts = impls[1]!.options();
    try {
      const w = await forkWorker(build.openJs, opts, request, 12, 'hold');
      w.child.send('go');
      expect(await w.report).toMatchObject({ allowed: 12, failed: 0 });
      await sleep(800);
      const exited = new Promise((ok) => w.child.once('exit', ok));
      w.child.kill('SIGKILL');
      await exited;
      const store = await openStore(opts);
      expect((await store.peek(request))[0].used).toBe(12);
      expect((await store.consume(request)).allowed).toBe(true);
      await store.close();
    } finally {
      build.cleanup();
    }
  });
});

describe('redis store when Redis is unreachable', () => {
  it('refuses to open quickly with StoreUnavailableError', async () => {
    const srv = createServer();
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
    const port = (srv.address() as { port: number }).port;
    await new Promise<void>((r) => srv.close(() => r()));
    await expect(openStore({ redisUrl: `redis://127.0.0.1:${port}`, dataDir: tempDir(), connectTimeoutMs: 500 })).rejects.toBeInstanceOf(StoreUnavailableError);
  });

  it('rejects every call with StoreUnavailableError once Redis goes away, and recovers', async () => {
    // A TCP proxy in front of the real Redis lets the test cut the connection.
    const sockets = new Set<Socket>();
    let proxy: Server = createServer((c) => {
      const up = connect(6379, '127.0.0.1');
      sockets.add(c); sockets.add(up);
      c.pipe(up).pipe(c);
      const end = (): void => { c.destroy(); up.destroy(); };
      c.on('error', end); up.on('error', end); c.on('close', end); up.on('close', end);
    });
    await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', r));
    const port = (proxy.address() as { port: number }).port;
    const store = await openStore({ redisUrl: `redis://127.0.0.1:${port}`, dataDir: tempDir(), prefix: testPrefix() });
    const req = [{ key: 'down', limit: 5, windowMs: 1000, cost: 1 }];
    expect((await store.consume(req)).allowed).toBe(true);
    const listener = proxy.listeners('connection')[0] as (s: Socket) => void;
    await new Promise<void>((r) => { proxy.close(() => r()); for (const s of sockets) s.destroy(); });
    await expect(store.consume(req)).rejects.toBeInstanceOf(StoreUnavailableError);
    await expect(store.getDoc('tenants', 'x')).rejects.toBeInstanceOf(StoreUnavailableError);
    await expect(store.countAndConsume([{ kind: 'incr', key: 'x', by: 1, ttlMs: 1000 }], { requests: [], skipIf: [] })).rejects.toBeInstanceOf(StoreUnavailableError);
    await expect(store.ping()).rejects.toBeInstanceOf(StoreUnavailableError);
    // Redis back on the same port: the client reconnects by itself.
    proxy = createServer(listener);
    await new Promise<void>((r) => proxy.listen(port, '127.0.0.1', r));
    let ok = false;
    for (let i = 0; i < 50 && !ok; i++) {
      ok = await store.ping().then(() => true, () => false);
      if (!ok) await sleep(100);
    }
    expect(ok).toBe(true);
    await store.close();
    await new Promise<void>((r) => { proxy.close(() => r()); for (const s of sockets) s.destroy(); });
  });
});
