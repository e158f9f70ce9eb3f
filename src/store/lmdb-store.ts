/**
 * Embedded store (single node, no Redis): LMDB under <dataDir>/store, persistent across restarts.
 * Every write runs in an LMDB write transaction (transactionSync), and LMDB serialises those across
 * processes with a file lock, so several processes on one data dir keep limits exact.
 * TTLs are stored with the values; expired entries are ignored on read and purged by a sweeper.
 * Publish/subscribe goes through an events table polled by subscribers (works across processes).
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { open, type Database, type RootDatabase } from 'lmdb';
import { nextNonce } from './keys.js';
import { runSlidingLog, type LogAdapter, type LogEntry, type LogMode } from './sliding-log.js';
import {
  StoreUnavailableError,
  type ConsumeResult, type DocEntry, type LimitRequest, type LimitState, type ReserveResult, type Store,
  type WindowSetAddResult, type CounterOp, type CounterResult, type ConditionalConsume,
} from './types.js';
import { consumeResult, counterValue } from './counter-ops.js';

type Key = string | number | (string | number)[];
interface KvValue { t: 's' | 'n' | 'h'; v: string | number | Record<string, number>; exp?: number }
/** Per limit key: running sum, newest and oldest entry (so most checks need no range scan). */
interface LimitMeta { sum: number; newest: number; exp: number; oldest?: number }
interface StoreEvent { c: string; m: string; at: number }
/**
 * Per window set: live members and the oldest timestamp among them (a lower bound), so an add
 * needs no scan while nothing can have expired. (A bare number: the expiry only, older format.)
 */
interface WindowSetMeta { exp: number; size: number; oldest: number }

const SWEEP_MS = 60_000;
const POLL_MS = 100;
const EVENT_KEEP_MS = 60_000;

export interface LmdbStoreOptions {
  dataDir: string;
  prefix: string;
}

export async function openLmdbStore(opts: LmdbStoreOptions): Promise<Store> {
  const path = join(opts.dataDir, 'store');
  mkdirSync(path, { recursive: true });
  const root = open({ path, maxDbs: 16 });
  return new LmdbStore(root, opts.prefix);
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

  constructor(private readonly root: RootDatabase, private readonly prefix: string) {
    this.docs = root.openDB('docs', { encoding: 'string' });
    this.kv = root.openDB('kv', {});
    this.lim = root.openDB('lim', {});
    this.limMeta = root.openDB('limmeta', {});
    this.wset = root.openDB('wset', {});
    this.wsetMeta = root.openDB('wsetmeta', {});
    this.events = root.openDB('events', {});
    this.sweep();
    this.sweeper = setInterval(() => this.sweep(), SWEEP_MS).unref();
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

  // ---- limits
  private limits(mode: LogMode, reqs: LimitRequest[], now: number): ReturnType<typeof runSlidingLog> {
    const realNow = Date.now();
    const keys = reqs.map((r) => this.k(r.key));
    const metas: (LimitMeta | undefined)[] = keys.map((k) => this.limMeta.get(k));
    const nonce = nextNonce();
    const adapter: LogAdapter = {
      trim: (i, cutoff) => {
        const meta = metas[i];
        if (!meta) return 0;
        if (meta.oldest !== undefined && meta.oldest > cutoff) return meta.sum;
        const old: (string | number)[][] = [];
        let remaining = false;
        for (const { key, value } of under(this.lim, keys[i])) {
          if (Number(key[1]) > cutoff) {
            remaining = true;
            meta.oldest = Number(key[1]);
            break;
          }
          old.push(key);
          meta.sum -= value;
        }
        for (const key of old) this.lim.removeSync(key);
        if (!remaining) metas[i] = undefined;
        return remaining ? meta.sum : 0;
      },
      entriesAfter: (i, after) => ({
        [Symbol.iterator]: function* (this: LmdbStore): Generator<LogEntry> {
          for (const { key, value } of under(this.lim, keys[i], [after])) {
            if (Number(key[1]) > after) yield { ts: Number(key[1]), cost: value };
          }
        }.bind(this),
      }),
      newest: (i) => metas[i]?.newest,
      add: (i, e, expiresAt) => {
        this.lim.putSync([keys[i], e.ts, `${nonce}:${i}`], e.cost);
        const exp = realNow + (expiresAt - now) + 1000;
        const m = metas[i];
        metas[i] = m
          ? { sum: m.sum + e.cost, newest: Math.max(m.newest, e.ts), exp: Math.max(m.exp, exp), oldest: m.oldest === undefined ? undefined : Math.min(m.oldest, e.ts) }
          : { sum: e.cost, newest: e.ts, exp, oldest: e.ts };
      },
    };
    const out = runSlidingLog(mode, reqs, now, adapter);
    keys.forEach((k, i) => {
      const m = metas[i];
      if (m) this.limMeta.putSync(k, m); else this.limMeta.removeSync(k);
    });
    return out;
  }

  consume(requests: LimitRequest[], now = Date.now()): Promise<ConsumeResult> {
    return this.tx(() => consumeResult(this.limits('consume', requests, now)));
  }
  reserve(requests: LimitRequest[], now = Date.now()): Promise<ReserveResult> {
    return this.tx(() => {
      const r = this.limits('reserve', requests, now);
      return { at: r.at, states: r.states };
    });
  }
  peek(requests: Omit<LimitRequest, 'cost'>[], now = Date.now()): Promise<LimitState[]> {
    return this.tx(() => this.limits('peek', requests.map((r) => ({ ...r, cost: 0 })), now).states);
  }
  resetLimits(keys: string[]): Promise<void> {
    return this.tx(() => { for (const k of keys) this.dropLimit(this.k(k)); });
  }
  private dropLimit(k: string): void {
    for (const { key } of [...under(this.lim, k)]) this.lim.removeSync(key);
    this.limMeta.removeSync(k);
  }

  // ---- values with TTL
  private live(key: string): KvValue | undefined {
    const v = this.kv.get(key);
    return v && (v.exp === undefined || v.exp > Date.now()) ? v : undefined;
  }
  incrBy(key: string, by: number, ttlMs: number): Promise<number> {
    return this.tx(() => this.incrSync(key, by, ttlMs));
  }
  private incrSync(key: string, by: number, ttlMs: number): number {
    const cur = this.live(this.k(key));
    const sum = (cur?.t === 'n' ? Number(cur.v) : 0) + Math.round(by);
    this.kv.putSync(this.k(key), { t: 'n', v: sum, exp: Date.now() + ttlMs });
    return sum;
  }
  private countersSync(ops: readonly CounterOp[]): CounterResult<CounterOp>[] {
    return ops.map((op) => {
      switch (op.kind) {
        case 'incr': return this.incrSync(op.key, op.by, op.ttlMs);
        case 'windowSet': return this.windowSetSync(op.key, op.members, op.windowMs, op.now ?? Date.now());
        case 'hash': return this.hashSync(op.key);
      }
    });
  }
  countAndConsume(ops: readonly CounterOp[], c: ConditionalConsume): Promise<{ counters: CounterResult<CounterOp>[]; consume: ConsumeResult | null }> {
    return this.tx(() => {
      const counters = this.countersSync(ops);
      if (!c.requests.length || c.skipIf.some((x) => counterValue(counters[x.op]) >= x.atLeast)) return { counters, consume: null };
      return { counters, consume: consumeResult(this.limits('consume', c.requests, c.now ?? Date.now())) };
    });
  }
  setIfAbsent(key: string, value: string, ttlMs: number): Promise<string | null> {
    return this.tx(() => {
      const cur = this.live(this.k(key));
      if (cur) return String(cur.v);
      this.kv.putSync(this.k(key), { t: 's', v: value, exp: Date.now() + ttlMs });
      return null;
    });
  }
  getValue(key: string): Promise<string | null> {
    return this.read(() => {
      const cur = this.live(this.k(key));
      return cur && cur.t !== 'h' ? String(cur.v) : null;
    });
  }
  setValue(key: string, value: string, ttlMs?: number): Promise<void> {
    return this.tx(() => { this.kv.putSync(this.k(key), { t: 's', v: value, exp: ttlMs ? Date.now() + ttlMs : undefined }); });
  }
  deleteValue(key: string): Promise<void> {
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

  // ---- windowed sets
  addToWindowSet(key: string, members: string[], windowMs: number, now?: number): Promise<number> {
    return this.windowSetAdd(key, members, windowMs, now).then((r) => r.size);
  }
  windowSetAdd(key: string, members: string[], windowMs: number, now = Date.now()): Promise<WindowSetAddResult> {
    return this.tx(() => this.windowSetSync(key, members, windowMs, now));
  }
  private windowSetSync(key: string, members: string[], windowMs: number, now: number): WindowSetAddResult {
    const k = this.k(key);
    const cutoff = now - windowMs;
    const meta = this.wsetMeta.get(k);
    let size: number;
    let oldest: number;
    if (meta !== undefined && typeof meta === 'object' && meta.oldest > cutoff) {
      // Nothing can have left the window: no scan.
      ({ size, oldest } = meta);
    } else {
      size = 0;
      oldest = Infinity;
      for (const { key: ek, value: ts } of [...under(this.wset, k)]) {
        if (ts <= cutoff) this.wset.removeSync(ek);
        else { size++; oldest = Math.min(oldest, ts); }
      }
    }
    const fresh: string[] = [];
    for (const m of members) {
      const ts = this.wset.get([k, m]);
      if (ts === undefined || ts <= cutoff) {
        fresh.push(m);
        if (ts === undefined) size++;
      }
      this.wset.putSync([k, m], now);
      oldest = Math.min(oldest, now);
    }
    if (size > 0) this.wsetMeta.putSync(k, { exp: Date.now() + windowMs + 1000, size, oldest }); else this.wsetMeta.removeSync(k);
    return { size, fresh };
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
    if (this.poller) clearInterval(this.poller);
    await this.root.close();
  }
}
