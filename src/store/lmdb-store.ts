/**
 * Embedded store (single node, no Redis): LMDB under <dataDir>/store, persistent across restarts.
 * Documents, values and hashes are written in LMDB write transactions; quota logs, running sums
 * and window sets are kept in the owning process's memory and written behind every 500 ms
 * (embedded-counters.ts, counter-owner.ts). Other processes may share the data dir for documents
 * (the CLI does). TTLs are stored with the values; expired entries are ignored on read and purged
 * by a sweeper. Publish/subscribe goes through an events table polled by subscribers (works
 * across processes).
 */
import { chmodSync, mkdirSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { open, type Database, type RootDatabase } from 'lmdb';
import type { LogEntry } from './sliding-log.js';
import { EmbeddedCounters, type CounterSource, type WriteBatch } from './embedded-counters.js';
import { CounterOwner } from './counter-owner.js';
import {
  StoreUnavailableError,
  type ConsumeResult, type DocEntry, type LimitRequest, type LimitState, type ReserveResult, type Store,
  type WindowSetAddResult, type CounterOp, type CounterResult, type ConditionalConsume,
} from './types.js';
import { consumeResult, counterValue } from './counter-ops.js';

type Key = string | number | (string | number)[];
interface KvValue { t: 's' | 'n' | 'h'; v: string | number | Record<string, number>; exp?: number }
/** Per limit key: when it may be swept (older versions kept the sum and bounds too). */
interface LimitMeta { exp: number }
interface StoreEvent { c: string; m: string; at: number }
/** Per window set: when it may be swept (older versions also kept its size and oldest member, or
 * a bare number). The members themselves live in memory (embedded-counters.ts). */
interface WindowSetMeta { exp: number }

const SWEEP_MS = 60_000;
/** Counters are written behind at this pace (what a crash may lose). */
const WRITE_BEHIND_MS = 500;
const POLL_MS = 100;
const EVENT_KEEP_MS = 60_000;

export interface LmdbStoreOptions {
  dataDir: string;
  prefix: string;
}

export async function openLmdbStore(opts: LmdbStoreOptions): Promise<Store> {
  const path = join(opts.dataDir, 'store');
  mkdirSync(path, { recursive: true, mode: 0o700 });
  const root = open({ path, maxDbs: 16 });
  // lmdb-js creates data.mdb and lock.mdb 0664 (minus umask): the store holds token hashes and
  // sealed secrets, so it is made private like the rest of the data dir (existing installs too).
  makePrivate(path, 0o700);
  for (const f of readdirSync(path)) makePrivate(join(path, f), 0o600);
  return new LmdbStore(root, opts.prefix, new CounterOwner(join(path, 'counters.owner')));
}

/** chmod, except when another user owns the file (a CLI run by root on the relay's dir may). */
function makePrivate(path: string, mode: number): void {
  try {
    chmodSync(path, mode);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EPERM') throw err;
  }
}

/** Entries [k, ...] of a composite-key table, in key order (k alone is never stored). */
function* under<V>(db: Database<V, Key>, k: string, from: (string | number)[] = []): Generator<{ key: (string | number)[]; value: V }> {
  for (const { key, value } of db.getRange({ start: [k, ...from] })) {
    if (!Array.isArray(key) || key[0] !== k) return;
    yield { key, value };
  }
}

class LmdbStore implements Store {
  readonly kind = 'embedded' as const;
  private readonly docs: Database<string, Key>;
  private readonly kv: Database<KvValue, Key>;
  private readonly lim: Database<number, Key>;
  private readonly limMeta: Database<LimitMeta, Key>;
  private readonly wset: Database<number, Key>;
  private readonly wsetMeta: Database<WindowSetMeta | number, Key>;
  private readonly events: Database<StoreEvent, Key>;
  private readonly sweeper: NodeJS.Timeout;
  private poller?: NodeJS.Timeout;
  private lastEvent = 0;
  private handlers = new Map<string, Set<(m: string) => void>>();
  private closed = false;
  private readonly counters: EmbeddedCounters;
  private readonly writeBehind: NodeJS.Timeout;
  private flushing: Promise<void> = Promise.resolve();

  constructor(private readonly root: RootDatabase, private readonly prefix: string, private readonly owner: CounterOwner) {
    this.docs = root.openDB('docs', { encoding: 'string' });
    this.kv = root.openDB('kv', {});
    this.lim = root.openDB('lim', {});
    this.limMeta = root.openDB('limmeta', {});
    this.wset = root.openDB('wset', {});
    this.wsetMeta = root.openDB('wsetmeta', {});
    this.events = root.openDB('events', {});
    this.counters = new EmbeddedCounters(this.counterSource());
    this.sweep();
    this.sweeper = setInterval(() => this.sweep(), SWEEP_MS).unref();
    this.writeBehind = setInterval(() => void this.flushCounters(), WRITE_BEHIND_MS).unref();
  }

  private k(key: string): string {
    return this.prefix + key;
  }

  /**
   * Run `fn` atomically inside a write transaction. lmdb-js batches the callbacks queued in the
   * same event turn into one transaction with one durable commit (group commit): concurrent SMTP
   * transactions share the flush instead of paying one fsync per quota update. `fn` must stay
   * synchronous; an exception is caught inside so it never aborts the other callbacks' writes.
   */
  private async tx<T>(fn: () => T): Promise<T> {
    if (this.closed) throw new StoreUnavailableError('store closed');
    const r = (await this.root.transaction(() => {
      try {
        return { ok: true as const, value: fn() };
      } catch (error) {
        return { ok: false as const, error };
      }
    })) as { ok: true; value: T } | { ok: false; error: unknown };
    if (!r.ok) throw r.error;
    return r.value;
  }

  private async read<T>(fn: () => T): Promise<T> {
    if (this.closed) throw new StoreUnavailableError('store closed');
    return fn();
  }

  // ---- documents
  getDoc<T>(ns: string, key: string): Promise<T | null> {
    return this.read(() => {
      const v = this.docs.get([this.k(ns), key]);
      return v === undefined ? null : (JSON.parse(v) as T);
    });
  }
  putDoc<T>(ns: string, key: string, value: T): Promise<void> {
    return this.tx(() => { this.docs.putSync([this.k(ns), key], JSON.stringify(value)); });
  }
  deleteDoc(ns: string, key: string): Promise<boolean> {
    return this.tx(() => this.docs.removeSync([this.k(ns), key]));
  }
  listDocs<T>(ns: string): Promise<DocEntry<T>[]> {
    return this.read(() => [...under(this.docs, this.k(ns))].map(({ key, value }) => ({ key: String(key[1]), value: JSON.parse(value) as T })));
  }

  // ---- counters (in memory, written behind: embedded-counters.ts)
  /** Run a counter operation: the store must be open and this process must own the counters. */
  private counted<T>(fn: () => T): Promise<T> {
    if (this.closed) return Promise.reject(new StoreUnavailableError('store closed'));
    try {
      this.owner.acquire();
      return Promise.resolve(fn());
    } catch (err) {
      return Promise.reject(err);
    }
  }

  consume(requests: LimitRequest[], now = Date.now()): Promise<ConsumeResult> {
    return this.counted(() => consumeResult(this.counters.limits('consume', requests, now)));
  }
  reserve(requests: LimitRequest[], now = Date.now()): Promise<ReserveResult> {
    return this.counted(() => {
      const r = this.counters.limits('reserve', requests, now);
      return { at: r.at, states: r.states };
    });
  }
  peek(requests: Omit<LimitRequest, 'cost'>[], now = Date.now()): Promise<LimitState[]> {
    return this.counted(() => this.counters.limits('peek', requests.map((r) => ({ ...r, cost: 0 })), now).states);
  }
  resetLimits(keys: string[]): Promise<void> {
    return this.counted(() => this.counters.resetLimits(keys));
  }

  incrBy(key: string, by: number, ttlMs: number): Promise<number> {
    return this.counted(() => this.counters.incr(key, by, ttlMs));
  }
  addToWindowSet(key: string, members: string[], windowMs: number, now?: number): Promise<number> {
    return this.windowSetAdd(key, members, windowMs, now).then((r) => r.size);
  }
  windowSetAdd(key: string, members: string[], windowMs: number, now = Date.now()): Promise<WindowSetAddResult> {
    return this.counted(() => this.counters.windowSetAdd(key, members, windowMs, now));
  }
  countAndConsume(ops: readonly CounterOp[], c: ConditionalConsume): Promise<{ counters: CounterResult<CounterOp>[]; consume: ConsumeResult | null }> {
    return this.counted(() => {
      const counters: CounterResult<CounterOp>[] = [];
      for (const op of ops) counters.push(this.runOp(op, counters));
      if (!c.requests.length || c.skipIf.some((x) => counterValue(counters[x.op]) >= x.atLeast)) return { counters, consume: null };
      return { counters, consume: consumeResult(this.counters.limits('consume', c.requests, c.now ?? Date.now())) };
    });
  }

  /** One op of a batch; `done` = the results of the ops before it. */
  private runOp(op: CounterOp, done: readonly CounterResult<CounterOp>[]): CounterResult<CounterOp> {
    switch (op.kind) {
      case 'incr':
        // An empty index: no sum of this kind lives, so this one need not be looked up.
        if (op.ifExists && op.indexedBy !== undefined && counterValue(done[op.indexedBy]) === 0) return Math.round(op.by);
        return this.counters.incr(op.key, op.by, op.ttlMs, op.ifExists);
      case 'windowSet': return this.counters.windowSetAdd(op.key, op.members, op.windowMs, op.now ?? Date.now());
      case 'windowCount': return this.counters.windowCount(op.key, op.members, op.windowMs, op.now ?? Date.now());
      case 'hash': return this.hashSync(op.key);
    }
  }

  /** Where the counters come from when they are not in memory yet (after a restart); keys unprefixed. */
  private counterSource(): CounterSource {
    return {
      log: (name) => {
        const k = this.k(name);
        const meta = this.limMeta.get(k);
        const entries = new Map<number, number>();
        const legacy: Key[] = [];
        for (const { key, value } of under(this.lim, k)) {
          entries.set(Number(key[1]), (entries.get(Number(key[1])) ?? 0) + value);
          if (key.length > 2) legacy.push(key);
        }
        // Older versions kept one entry per charge ([key, ts, nonce]): merge them once.
        if (legacy.length) {
          this.root.transactionSync(() => {
            for (const key of legacy) this.lim.removeSync(key);
            for (const [ts, cost] of entries) this.lim.putSync([k, ts], cost);
          });
        }
        const list: LogEntry[] = [...entries].map(([ts, cost]) => ({ ts, cost }));
        return meta || list.length ? { entries: list, sweepAt: meta?.exp ?? Date.now() } : undefined;
      },
      values: function* (this: LmdbStore) {
        const all = this.k('');
        for (const { key, value } of this.kv.getRange({ start: all })) {
          if (typeof key !== 'string' || !key.startsWith(all)) break;
          if (value.t === 'n') yield [key.slice(all.length), { v: Number(value.v), exp: value.exp ?? Infinity }] as [string, { v: number; exp: number }];
        }
      }.bind(this),
      windowSet: (name) => {
        const k = this.k(name);
        const meta = this.wsetMeta.get(k);
        if (meta === undefined) return undefined;
        const members = new Map<string, number>();
        for (const { key, value } of under(this.wset, k)) members.set(String(key[1]), value);
        return { members, exp: typeof meta === 'number' ? meta : meta.exp };
      },
    };
  }

  /** Commit what the counters changed since the last flush (one write transaction). */
  private flushCounters(): Promise<void> {
    this.flushing = this.flushing.then(async () => {
      const b = this.counters.takeBatch();
      if (!b) return;
      // A failed write (disk full...) goes back under the newer changes and is retried.
      await this.root.transaction(() => this.writeBatch(b)).catch(() => this.counters.restore(b));
    });
    return this.flushing;
  }

  /** Writes a batch of the counters (unprefixed keys). */
  private writeBatch(b: WriteBatch): void {
    for (const [name, { reset, entries, sweepAt }] of b.logs) {
      const k = this.k(name);
      if (reset) this.dropLimit(k);
      for (const [ts, cost] of entries) {
        if (cost > 0) this.lim.putSync([k, ts], cost);
        else this.lim.removeSync([k, ts]);
      }
      if (sweepAt === null) this.limMeta.removeSync(k);
      else this.limMeta.putSync(k, { exp: sweepAt });
    }
    for (const [name, v] of b.values) {
      const k = this.k(name);
      if (v) this.kv.putSync(k, { t: 'n', v: v.v, exp: v.exp });
      else this.kv.removeSync(k);
    }
    for (const [name, { members, exp }] of b.sets) {
      const k = this.k(name);
      if (exp === null) {
        for (const e of [...under(this.wset, k)]) this.wset.removeSync(e.key);
        this.wsetMeta.removeSync(k);
        continue;
      }
      for (const [m, ts] of members) {
        if (ts > 0) this.wset.putSync([k, m], ts);
        else this.wset.removeSync([k, m]);
      }
      this.wsetMeta.putSync(k, { exp });
    }
  }

  private dropLimit(k: string): void {
    for (const { key } of [...under(this.lim, k)]) this.lim.removeSync(key);
    this.limMeta.removeSync(k);
  }

  // ---- values with TTL (a key holding a counter is served from memory)
  private live(key: string): KvValue | undefined {
    const v = this.kv.get(key);
    return v && (v.exp === undefined || v.exp > Date.now()) ? v : undefined;
  }
  setIfAbsent(key: string, value: string, ttlMs: number): Promise<string | null> {
    return this.tx(() => {
      const cur = this.live(this.k(key));
      if (cur) return String(cur.v);
      this.counters.dropValue(key);
      this.kv.putSync(this.k(key), { t: 's', v: value, exp: Date.now() + ttlMs });
      return null;
    });
  }
  getValue(key: string): Promise<string | null> {
    return this.read(() => {
      const counter = this.owner.owns ? this.counters.value(key) : undefined;
      if (counter !== undefined) return String(counter);
      const cur = this.live(this.k(key));
      return cur && cur.t !== 'h' ? String(cur.v) : null;
    });
  }
  setValue(key: string, value: string, ttlMs?: number): Promise<void> {
    this.counters.dropValue(key);
    return this.tx(() => { this.kv.putSync(this.k(key), { t: 's', v: value, exp: ttlMs ? Date.now() + ttlMs : undefined }); });
  }
  deleteValue(key: string): Promise<void> {
    this.counters.dropValue(key);
    return this.tx(() => { this.kv.removeSync(this.k(key)); });
  }
  hincr(key: string, fields: Record<string, number>, ttlMs: number): Promise<void> {
    return this.hincrMany([{ key, fields, ttlMs }]);
  }
  hincrMany(entries: Array<{ key: string; fields: Record<string, number>; ttlMs: number }>): Promise<void> {
    // One write transaction (one commit, one flush) for the whole batch.
    return this.tx(() => {
      for (const { key, fields, ttlMs } of entries) {
        const cur = this.live(this.k(key));
        const h: Record<string, number> = cur?.t === 'h' ? { ...(cur.v as Record<string, number>) } : {};
        for (const [f, by] of Object.entries(fields)) h[f] = (h[f] ?? 0) + Math.round(by);
        this.kv.putSync(this.k(key), { t: 'h', v: h, exp: Date.now() + ttlMs });
      }
    });
  }
  hgetall(key: string): Promise<Record<string, number>> {
    return this.read(() => this.hashSync(key));
  }
  private hashSync(key: string): Record<string, number> {
    const cur = this.live(this.k(key));
    return cur?.t === 'h' ? { ...(cur.v as Record<string, number>) } : {};
  }
  scanKeys(prefix: string): Promise<string[]> {
    return this.read(() => {
      const full = this.k(prefix);
      const out: string[] = [];
      for (const { key, value } of this.kv.getRange({ start: full })) {
        if (typeof key !== 'string' || !key.startsWith(full)) break;
        if (value.exp === undefined || value.exp > Date.now()) out.push(key.slice(this.prefix.length));
      }
      return out;
    });
  }

  // ---- publish / subscribe (polled events table, visible to every process on this data dir)
  publish(channel: string, message: string): Promise<void> {
    return this.tx(() => {
      const seq = this.lastSeq() + 1;
      this.events.putSync(seq, { c: this.k(channel), m: message, at: Date.now() });
    }).then(() => this.poll());
  }
  async subscribe(channel: string, onMessage: (message: string) => void): Promise<() => Promise<void>> {
    if (this.closed) throw new StoreUnavailableError('store closed');
    if (!this.poller) {
      this.lastEvent = this.lastSeq();
      this.poller = setInterval(() => this.poll(), POLL_MS).unref();
    }
    const ch = this.k(channel);
    if (!this.handlers.has(ch)) this.handlers.set(ch, new Set());
    this.handlers.get(ch)!.add(onMessage);
    return async () => { this.handlers.get(ch)?.delete(onMessage); };
  }
  private lastSeq(): number {
    for (const key of this.events.getKeys({ reverse: true, limit: 1 })) if (typeof key === 'number') return key;
    return 0;
  }
  private poll(): void {
    if (!this.poller || this.closed) return;
    this.root.resetReadTxn();
    for (const { key, value } of this.events.getRange({ start: this.lastEvent + 1 })) {
      if (typeof key !== 'number') break;
      this.lastEvent = key;
      for (const h of this.handlers.get(value.c) ?? []) {
        try { h(value.m); } catch { /* a subscriber's failure is its own */ }
      }
    }
  }

  /** Purge what expired (values, limit logs, window sets, old events). */
  private sweep(): void {
    if (this.closed) return;
    const now = Date.now();
    this.counters.sweep(now);
    this.root.transactionSync(() => {
      for (const { key, value } of [...this.kv.getRange({})]) if (value.exp !== undefined && value.exp <= now) this.kv.removeSync(key);
      for (const { key, value } of [...this.limMeta.getRange({})]) if (value.exp <= now) this.dropLimit(String(key));
      for (const { key, value } of [...this.wsetMeta.getRange({})]) {
        if ((typeof value === 'number' ? value : value.exp) > now) continue;
        for (const e of [...under(this.wset, String(key))]) this.wset.removeSync(e.key);
        this.wsetMeta.removeSync(key);
      }
      for (const { key, value } of [...this.events.getRange({})]) {
        if (value.at > now - EVENT_KEEP_MS) break;
        this.events.removeSync(key);
      }
    });
  }

  async ping(): Promise<void> {
    if (this.closed) throw new StoreUnavailableError('store closed');
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.sweeper);
    clearInterval(this.writeBehind);
    if (this.poller) clearInterval(this.poller);
    await this.flushCounters();
    this.owner.release();
    await this.root.close();
  }
}
