/**
 * Redis store (production, shared by all nodes). Limits run in one Lua script per call, so the
 * check-and-consume over mailbox + domain + tenant is atomic across nodes. Offline queueing is
 * off and commands time out, so a dead Redis yields StoreUnavailableError fast instead of a hang.
 */
import { Redis, Cluster } from 'ioredis';
import type { RedisOptions } from 'ioredis';
import { DEFAULT_LIMIT_TAG, hashTagOf } from './keys.js';
import { parseRedisUrl } from './redis-url.js';
import { LIMITS_SCRIPT, MESSAGE_SCRIPT, RETURN_CREDIT_SCRIPT, SET_IF_ABSENT_SCRIPT, WINDOW_SET_SCRIPT } from './redis-scripts.js';
import { CreditBook, type ExpiredCredit } from './quota-credits.js';
import { WindowTrims } from './window-trims.js';
import { RecentCounts } from './recent-counts.js';
import { CallBatcher } from './call-batcher.js';
import { consumeResult, counterValue } from './counter-ops.js';
import {
  StoreUnavailableError,
  type ConsumeResult, type DocEntry, type LimitRequest, type LimitState, type ReserveResult, type Store,
  type WindowSetAddResult, type CounterOp, type CounterResult, type ConditionalConsume,
} from './types.js';

export interface RedisStoreOptions {
  url: string;
  prefix: string;
  connectTimeoutMs?: number;
  commandTimeoutMs?: number;
  /**
   * Not reachable within connectTimeoutMs: return the store anyway (calls reject with
   * StoreUnavailableError until the client, retrying in the background, connects) instead of
   * rejecting. The relay uses it so a Redis outage at start means tempfails, not a dead relay.
   */
  lazy?: boolean;
}

type Client = Redis | Cluster;
const CREDIT_SWEEP_MS = 250;
/**
 * Under load, a message call waits this long for others to share its round trip: at 3 ms a call
 * carries about six messages on the policies bench, so Redis wakes up and parses a script call
 * once for all of them (a lone caller never waits).
 */
const MESSAGE_LINGER_MS = 3;
const MAX_CACHED_KEYS = 50_000;
interface ScriptCommands {
  relaisLimits(...args: (string | number)[]): Promise<(string | number)[]>;
  relaisMessage(...args: (string | number)[]): Promise<unknown[]>;
  relaisWindowSet(...args: (string | number)[]): Promise<(string | number)[]>;
  relaisSetIfAbsent(key: string, value: string, ttl: number): Promise<string | null>;
  relaisReturnCredit(key: string, entry: string, units: number): Promise<number>;
}

/** Server-side states that mean "try later", not a bug in our commands. */
const TRANSIENT_REPLY = /^(LOADING|CLUSTERDOWN|TRYAGAIN|MASTERDOWN|READONLY|BUSY|NOREPLICAS)/;

function toStoreError(err: unknown): Error {
  const e = err as Error;
  if (e?.name === 'ReplyError' && !TRANSIENT_REPLY.test(e.message)) return e;
  return new StoreUnavailableError(`Redis unavailable: ${e?.message ?? String(err)}`, { cause: err });
}

function globEscape(s: string): string {
  return s.replace(/[*?[\]\\]/g, (c) => `\\${c}`);
}

function createClient(url: string, base: RedisOptions): Client {
  const target = parseRedisUrl(url);
  if (target.kind === 'single') return new Redis(url, base);
  if (target.kind === 'sentinel') {
    return new Redis({
      ...base,
      sentinels: target.sentinels,
      name: target.name,
      db: target.db,
      username: target.username,
      password: target.password,
      sentinelUsername: target.sentinelUsername,
      sentinelPassword: target.sentinelPassword,
      ...(target.tls ? { tls: {}, enableTLSForSentinelMode: true } : {}),
    });
  }
  const { enableOfflineQueue: _q, retryStrategy: _r, ...redisOptions } = base;
  return new Cluster(target.nodes, {
    enableOfflineQueue: false,
    clusterRetryStrategy: (times: number) => Math.min(times * 200, 2000),
    redisOptions: { ...redisOptions, username: target.username, password: target.password, ...(target.tls ? { tls: {} } : {}) },
  });
}

async function waitReady(client: Client, timeoutMs: number): Promise<void> {
  if (client.status === 'ready') return;
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => done(new StoreUnavailableError(`Redis not ready after ${timeoutMs} ms`)), timeoutMs);
    const onReady = (): void => done();
    const done = (err?: Error): void => {
      clearTimeout(timer);
      client.off('ready', onReady);
      if (err) reject(err); else resolve();
    };
    client.on('ready', onReady);
  });
}

export async function openRedisStore(opts: RedisStoreOptions): Promise<Store> {
  const connectTimeout = opts.connectTimeoutMs ?? 2000;
  const base: RedisOptions = {
    maxRetriesPerRequest: 1,
    enableOfflineQueue: false,
    connectTimeout,
    commandTimeout: opts.commandTimeoutMs ?? 2000,
    retryStrategy: (times: number) => Math.min(times * 200, 2000),
    lazyConnect: false,
  };
  const client = createClient(opts.url, base);
  client.on('error', () => { /* surfaced per command as StoreUnavailableError */ });
  try {
    await waitReady(client, connectTimeout);
  } catch (err) {
    if (!opts.lazy) {
      client.disconnect();
      throw err;
    }
  }
  client.defineCommand('relaisLimits', { lua: LIMITS_SCRIPT });
  client.defineCommand('relaisMessage', { lua: MESSAGE_SCRIPT });
  client.defineCommand('relaisWindowSet', { numberOfKeys: 1, lua: WINDOW_SET_SCRIPT });
  client.defineCommand('relaisSetIfAbsent', { numberOfKeys: 1, lua: SET_IF_ABSENT_SCRIPT });
  client.defineCommand('relaisReturnCredit', { numberOfKeys: 1, lua: RETURN_CREDIT_SCRIPT });
  return new RedisStore(client, opts.prefix, connectTimeout);
}

interface MessageCall {
  keys: string[];
  args: (string | number)[];
}

type MessageResult = { counters: CounterResult<CounterOp>[]; consume: ConsumeResult | null };
const NO_REQUESTS: readonly LimitRequest[] = [];

class RedisStore implements Store {
  readonly kind = 'redis' as const;
  private sub?: Promise<Client>;
  private handlers = new Map<string, Set<(m: string) => void>>();
  /** Message scripts of concurrent callers share a round trip (see CallBatcher). */
  private readonly messages = new CallBatcher<MessageCall, unknown>((calls) => this.runMessages(calls), { lingerMs: MESSAGE_LINGER_MS });
  private readonly credits = new CreditBook();
  /** When this node last trimmed the window sets it counts. */
  private readonly trims = new WindowTrims();
  /** Window-set sizes read lately, for ops that accept them (CounterOp staleMs). */
  private readonly recent = new RecentCounts();
  /** Limit hash keys by limit key (a sender's limits recur on every message it sends). */
  private readonly hashKeys = new Map<string, string>();
  /** Gives back the credit that granules leave unspent. */
  private readonly creditTimer = setInterval(() => void this.returnCredits(this.credits.expired()), CREDIT_SWEEP_MS).unref();

  constructor(private readonly client: Client, private readonly prefix: string, private readonly connectTimeout: number) {}

  private async returnCredits(list: ExpiredCredit[]): Promise<void> {
    // Best effort: what is not given back stays charged until its window passes (never too little).
    await Promise.all(list.map((c) => this.scripts.relaisReturnCredit(c.key, String(c.entry), c.left).catch(() => 0)));
  }

  private runMessages(calls: MessageCall[]): Promise<unknown[]> {
    const keys: string[] = [];
    const args: (string | number)[] = [calls.length];
    for (const c of calls) {
      keys.push(...c.keys);
      args.push(c.keys.length, c.args.length, ...c.args);
    }
    return this.scripts.relaisMessage(keys.length, ...keys, ...args);
  }

  private get scripts(): ScriptCommands {
    return this.client as unknown as ScriptCommands;
  }

  private async run<T>(fn: () => Promise<T>): Promise<T> {
    if (this.client.status !== 'ready') throw new StoreUnavailableError(`Redis unavailable (${this.client.status})`);
    try {
      return await fn();
    } catch (err) {
      throw toStoreError(err);
    }
  }

  private k(key: string): string {
    return this.prefix + key;
  }

  /** Limit keys get a hash tag when they have none, so all keys of one call share a slot. */
  private limitKey(key: string): string {
    return hashTagOf(key) === undefined ? `${this.prefix}{${DEFAULT_LIMIT_TAG}}${key}` : this.prefix + key;
  }

  /** A limit's hash (":b", bucketed; older versions kept a sorted set under the bare key). */
  private limitHashKey(key: string): string {
    let k = this.hashKeys.get(key);
    if (k === undefined) {
      if (this.hashKeys.size >= MAX_CACHED_KEYS) this.hashKeys.clear();
      k = `${this.limitKey(key)}:b`;
      this.hashKeys.set(key, k);
    }
    return k;
  }

  /** Keys and arguments of the limit script; all keys of one call must share a hash tag. */
  private limitArgs(mode: string, reqs: LimitRequest[], now?: number, keys = reqs.map((r) => this.limitHashKey(r.key))): { keys: string[]; args: (string | number)[] } {
    if (new Set(keys.map((k) => hashTagOf(k))).size > 1) {
      throw new Error(`limit keys of one call must share one hash tag: ${reqs.map((r) => r.key).join(', ')}`);
    }
    const args: (string | number)[] = [mode, now === undefined ? '' : Math.floor(now)];
    for (const r of reqs) args.push(r.limit, r.windowMs, Math.max(0, Math.floor(r.cost)));
    return { keys, args };
  }

  private static limitOutcome(reqs: LimitRequest[], raw: (string | number)[]): { allowed: boolean; refused: number; at: number; states: LimitState[] } {
    const out = raw.map(Number);
    const states = reqs.map((r, i) => ({ key: r.key, limit: r.limit, windowMs: r.windowMs, used: out[3 + 2 * i], resetAt: out[4 + 2 * i] }));
    return { allowed: out[0] === 1, refused: out[1], at: out[2], states };
  }

  private async limits(mode: string, reqs: LimitRequest[], now?: number): Promise<{ allowed: boolean; refused: number; at: number; states: LimitState[] }> {
    const { keys, args } = this.limitArgs(mode, reqs, now);
    const raw = await this.run(() => this.scripts.relaisLimits(keys.length, ...keys, ...args));
    return RedisStore.limitOutcome(reqs, raw);
  }

  /**
   * The ops this node answers from its recent readings (CounterOp staleMs, indexedBy): they are
   * not sent. Undefined where an op must go to Redis.
   */
  private localAnswers(ops: readonly CounterOp[], keys: readonly string[]): (CounterResult<CounterOp> | undefined)[] {
    // Always the same kind of array (V8 elements kind), whatever it ends up holding.
    const out: (CounterResult<CounterOp> | undefined)[] = new Array<undefined>(ops.length).fill(undefined);
    for (let i = 0; i < ops.length; i++) {
      const o = ops[i]!;
      if ((o.kind === 'windowCount' || o.kind === 'windowSet') && o.staleMs !== undefined && o.now !== undefined) {
        const size = this.recent.size(keys[i]!, o.members, o.windowMs, o.now, o.staleMs);
        if (size !== undefined) out[i] = o.kind === 'windowSet' ? { size, fresh: [] } : size;
      } else if (o.kind === 'incr' && o.ifExists && o.indexedBy !== undefined && o.indexedBy < i) {
        // Its index is known to be empty: the sum does not exist.
        const index = out[o.indexedBy];
        if (index !== undefined && counterValue(index) === 0) out[i] = Math.round(o.by);
      }
    }
    return out;
  }

  /** One op's arguments for the message script (MESSAGE_FN). */
  private encodeOp(o: CounterOp, key: string, args: (string | number)[]): void {
    if (o.kind === 'incr') args.push(o.ifExists ? 'e' : 'i', Math.round(o.by), o.ttlMs);
    else if (o.kind === 'windowSet') {
      // The node's clock: the times go as strings, so the script parses and formats none.
      const now = o.now === undefined ? undefined : Math.floor(o.now);
      args.push('w', now ?? '', o.windowMs, now === undefined ? '' : now - o.windowMs, o.windowMs + 1000, o.members.length, ...o.members);
    } else if (o.kind === 'windowCount' && o.now !== undefined) {
      const now = Math.floor(o.now);
      const trim = this.trims.due(key, now, o.windowMs);
      args.push('c', now, now - o.windowMs, trim ? '1' : '', WindowTrims.ttl(o.windowMs), o.members.length, ...o.members);
    } else if (o.kind === 'windowCount') {
      // On the Redis clock: the general window set (it works the times out in the script).
      args.push('w', '', o.windowMs, '', '', o.members.length, ...o.members);
    } else args.push('h');
  }

  private static decodeOp(o: CounterOp, v: unknown): CounterResult<CounterOp> {
    if (o.kind === 'incr') return Number(v);
    if (o.kind === 'windowCount') return Number(Array.isArray(v) ? v[0] : v);
    if (o.kind === 'windowSet') {
      const out = v as unknown[];
      return { size: Number(out[0]), fresh: out.slice(1).map(String) };
    }
    const flat = v as string[];
    const h: Record<string, number> = {};
    for (let k = 0; k + 1 < flat.length; k += 2) h[flat[k]!] = Number(flat[k + 1]);
    return h;
  }

  countAndConsume(ops: readonly CounterOp[], c: ConditionalConsume): Promise<MessageResult> {
    const opKeys: string[] = [];
    for (const o of ops) opKeys.push(this.k(o.key));
    const local = this.localAnswers(ops, opKeys);
    // A skip condition met by a local answer: the message is bulk, nothing is charged.
    let skip = false;
    for (const x of c.skipIf) if (local[x.op] !== undefined && counterValue(local[x.op]) >= x.atLeast) skip = true;
    const requests = skip ? NO_REQUESTS : c.requests;
    const paid = this.takeCredits(requests, c.now);
    // The common case under load, kept apart from the general one (which V8 optimises less well
    // for seeing more shapes): every op answered here, every limit paid from credit.
    if (local.every((v) => v !== undefined) && paid.every((e) => e !== undefined)) {
      const consume = requests.length ? { allowed: true, states: requests.map((r, i) => this.creditState(r, paid[i]!)) } : null;
      return Promise.resolve({ counters: local as CounterResult<CounterOp>[], consume });
    }
    return this.callMessage(ops, opKeys, local, requests, paid, c);
  }

  /**
   * The credit entry each limit is paid from (quota-credits.ts), or undefined for those the call
   * must charge. None with a caller's clock: credits live on the Redis clock.
   */
  private takeCredits(requests: readonly LimitRequest[], now: number | undefined): (number | undefined)[] {
    const paid = new Array<number | undefined>(requests.length).fill(undefined);
    if (now === undefined) requests.forEach((r, i) => { paid[i] = this.credits.take(this.limitHashKey(r.key), r.cost); });
    return paid;
  }

  /** A limit paid from credit: usage as of the grant (credit included); its charges leave with its entry. */
  private creditState(r: LimitRequest, entry: number): LimitState {
    return { key: r.key, limit: r.limit, windowMs: r.windowMs, used: this.credits.usedOf(this.limitHashKey(r.key)), resetAt: entry + r.windowMs };
  }

  /** The message's call to Redis: the ops not answered locally, the limits not paid from credit. */
  private async callMessage(
    ops: readonly CounterOp[], opKeys: readonly string[], local: readonly (CounterResult<CounterOp> | undefined)[],
    requests: readonly LimitRequest[], paid: readonly (number | undefined)[], c: ConditionalConsume,
  ): Promise<MessageResult> {
    // Limits paid from credit stay out of the call.
    const useCredits = c.now === undefined;
    const hashKeys = requests.map((r) => this.limitHashKey(r.key));
    const sentIdx = requests.flatMap((_, i) => (paid[i] === undefined ? [i] : []));
    const sent = sentIdx.map((i) => requests[i]!);
    const opIdx = ops.flatMap((_, i) => (local[i] === undefined ? [i] : []));
    const giveBack = (): void => paid.forEach((entry, i) => entry !== undefined && this.credits.giveBack(hashKeys[i]!, requests[i]!.cost, entry));
    let results: unknown[] = [];
    let limit: (string | number)[] | 0 = 0;
    const sentAt = Date.now();
    if (opIdx.length || sent.length) {
      const { keys: limitKeys, args: limitArgs } = sent.length ? this.limitArgs('consume', sent, c.now, sentIdx.map((i) => hashKeys[i]!)) : { keys: [], args: ['none'] };
      if (sent.length) limitArgs.push(...sent.map((r, j) => (useCredits ? this.credits.wanted(r, limitKeys[j]!) : 0)));
      const keys = [...opIdx.map((i) => opKeys[i]!), ...limitKeys];
      // On a Cluster, one lane per hash tag: a batch's keys must share a slot.
      let lane = '';
      if (this.client instanceof Cluster) {
        const tags = new Set(keys.map((k) => hashTagOf(k) ?? k));
        if (tags.size > 1) throw new Error('countAndConsume: all keys must share one hash tag on Redis Cluster');
        lane = [...tags][0]!;
      }
      const args: (string | number)[] = [opIdx.length];
      for (const i of opIdx) this.encodeOp(ops[i]!, opKeys[i]!, args);
      const skipIf = c.skipIf.filter((x) => local[x.op] === undefined);
      args.push(skipIf.length);
      for (const x of skipIf) args.push(opIdx.indexOf(x.op) + 1, x.atLeast);
      args.push(...limitArgs);
      // Sets this call adds to: no local answer for them until it is back.
      const adds = opIdx.filter((i) => { const o = ops[i]!; return (o.kind === 'windowSet' || o.kind === 'windowCount') && o.members.length > 0; });
      for (const i of adds) this.recent.writing(opKeys[i]!);
      try {
        [results, limit] = (await this.run(() => this.messages.submit(lane, { keys, args }))) as [unknown[], (string | number)[] | 0];
      } catch (err) {
        giveBack();
        for (const i of opIdx) if (ops[i]!.kind === 'windowCount') this.trims.forget(opKeys[i]!);
        for (const i of adds) this.recent.failed(opKeys[i]!);
        throw err;
      }
    }
    const counters = ops.map((o, i) => local[i] ?? RedisStore.decodeOp(o, results[opIdx.indexOf(i)]));
    for (const i of opIdx) {
      const o = ops[i]!;
      if (o.kind === 'windowSet' || o.kind === 'windowCount') this.recent.read(opKeys[i]!, counterValue(counters[i]), sentAt, o.members, o.now);
    }
    if (requests.length === 0) return { counters, consume: null };
    const skipped = sent.length ? !Array.isArray(limit) : c.skipIf.some((x) => counterValue(counters[x.op]) >= x.atLeast);
    if (skipped) {
      giveBack();
      return { counters, consume: null };
    }
    const out = Array.isArray(limit) ? limit.map(Number) : [1, 0, this.credits.redisNow()];
    if (useCredits && sent.length) this.credits.observeClock(out[2]!, sentAt);
    const n = sent.length;
    const states: LimitState[] = requests.map((r, i) => {
      const j = sentIdx.indexOf(i);
      return j >= 0 ? { key: r.key, limit: r.limit, windowMs: r.windowMs, used: out[3 + 2 * j]!, resetAt: out[4 + 2 * j]! } : this.creditState(r, paid[i]!);
    });
    if (out[0] !== 1) {
      giveBack();
      return { counters, consume: consumeResult({ allowed: false, refusedIndex: sentIdx[out[1]! - 1], states }) };
    }
    // Credit granted with the charge, reported after the states.
    // (Only the fast path grants credit; the general one reports usage alone.)
    const granted = out.length > 3 + 2 * n;
    if (useCredits) {
      sentIdx.forEach((i, j) => CreditBook.eligible(requests[i]!) && this.credits.charged(hashKeys[i]!, out[3 + 2 * j]!, granted ? out[3 + 2 * n + 2 * j]! : 0, granted ? out[4 + 2 * n + 2 * j]! : 0));
    }
    return { counters, consume: consumeResult({ allowed: true, states }) };
  }

  async consume(requests: LimitRequest[], now?: number): Promise<ConsumeResult> {
    if (requests.length === 0) return { allowed: true, states: [] };
    const r = await this.limits('consume', requests, now);
    return consumeResult({ ...r, refusedIndex: r.refused - 1 });
  }

  async reserve(requests: LimitRequest[], now?: number): Promise<ReserveResult> {
    if (requests.length === 0) return { at: now ?? Date.now(), states: [] };
    const r = await this.limits('reserve', requests, now);
    return { at: r.at, states: r.states };
  }

  async peek(requests: Omit<LimitRequest, 'cost'>[], now?: number): Promise<LimitState[]> {
    if (requests.length === 0) return [];
    return (await this.limits('peek', requests.map((r) => ({ ...r, cost: 0 })), now)).states;
  }

  async resetLimits(keys: string[]): Promise<void> {
    if (keys.length === 0) return;
    // This node's credit on them goes with the usage (other nodes spend theirs: at most one granule's).
    for (const k of keys) this.credits.forget(this.limitHashKey(k));
    // One DEL per limit (its keys share a slot; other limits' may not), with the older versions'
    // sorted set and sum, if any.
    await this.run(() => Promise.all(keys.map((k) => this.limitKey(k)).map((k) => this.client.del(`${k}:b`, k, `${k}:sum`))));
  }

  async getDoc<T>(ns: string, key: string): Promise<T | null> {
    const v = await this.run(() => this.client.hget(this.k(`doc:${ns}`), key));
    return v === null ? null : (JSON.parse(v) as T);
  }

  async putDoc<T>(ns: string, key: string, value: T): Promise<void> {
    await this.run(() => this.client.hset(this.k(`doc:${ns}`), key, JSON.stringify(value)));
  }

  async deleteDoc(ns: string, key: string): Promise<boolean> {
    return (await this.run(() => this.client.hdel(this.k(`doc:${ns}`), key))) > 0;
  }

  async listDocs<T>(ns: string): Promise<DocEntry<T>[]> {
    const all = await this.run(() => this.client.hgetall(this.k(`doc:${ns}`)));
    return Object.entries(all).sort(([a], [b]) => (a < b ? -1 : 1)).map(([key, v]) => ({ key, value: JSON.parse(v) as T }));
  }

  async incrBy(key: string, by: number, ttlMs: number): Promise<number> {
    const res = await this.run(() => this.client.multi().incrby(this.k(key), Math.round(by)).pexpire(this.k(key), ttlMs).exec());
    const [err, value] = res?.[0] ?? [new Error('transaction aborted'), null];
    if (err) throw toStoreError(err);
    return Number(value);
  }

  async addToWindowSet(key: string, members: string[], windowMs: number, now?: number): Promise<number> {
    return (await this.windowSetAdd(key, members, windowMs, now)).size;
  }

  async windowSetAdd(key: string, members: string[], windowMs: number, now?: number): Promise<WindowSetAddResult> {
    const k = this.k(key);
    const sentAt = Date.now();
    if (members.length) this.recent.writing(k);
    let out: (string | number)[];
    try {
      out = await this.run(() => this.scripts.relaisWindowSet(k, now === undefined ? '' : Math.floor(now), windowMs, ...members));
    } catch (err) {
      this.recent.failed(k);
      throw err;
    }
    // Local answers for the set (CounterOp staleMs) must count this node's adds.
    this.recent.read(k, Number(out[0]), sentAt, members, now);
    return { size: Number(out[0]), fresh: out.slice(1).map(String) };
  }

  async setIfAbsent(key: string, value: string, ttlMs: number): Promise<string | null> {
    return (await this.run(() => this.scripts.relaisSetIfAbsent(this.k(key), value, Math.max(1, Math.round(ttlMs))))) ?? null;
  }

  async getValue(key: string): Promise<string | null> {
    return this.run(() => this.client.get(this.k(key)));
  }

  async setValue(key: string, value: string, ttlMs?: number): Promise<void> {
    await this.run(() => (ttlMs ? this.client.set(this.k(key), value, 'PX', Math.max(1, Math.round(ttlMs))) : this.client.set(this.k(key), value)));
  }

  async deleteValue(key: string): Promise<void> {
    await this.run(() => this.client.del(this.k(key)));
  }

  async hincr(key: string, fields: Record<string, number>, ttlMs: number): Promise<void> {
    return this.hincrMany([{ key, fields, ttlMs }]);
  }

  async hincrMany(list: Array<{ key: string; fields: Record<string, number>; ttlMs: number }>): Promise<void> {
    // ioredis pipelines on a Cluster need one slot: there, one round trip per key.
    if (this.client instanceof Cluster && list.length > 1) {
      await Promise.all(list.map((e) => this.hincrMany([e])));
      return;
    }
    const p = this.client.pipeline();
    let n = 0;
    for (const { key, fields, ttlMs } of list) {
      const entries = Object.entries(fields);
      if (entries.length === 0) continue;
      for (const [f, by] of entries) p.hincrby(this.k(key), f, Math.round(by));
      p.pexpire(this.k(key), ttlMs);
      n++;
    }
    if (n === 0) return;
    const res = await this.run(() => p.exec());
    const failed = res?.find(([err]) => err);
    if (failed) throw toStoreError(failed[0]);
  }

  async hgetall(key: string): Promise<Record<string, number>> {
    const all = await this.run(() => this.client.hgetall(this.k(key)));
    return Object.fromEntries(Object.entries(all).map(([f, v]) => [f, Number(v)]));
  }

  async scanKeys(prefix: string): Promise<string[]> {
    const nodes = this.client instanceof Cluster ? this.client.nodes('master') : [this.client];
    const found = new Set<string>();
    await this.run(async () => {
      for (const node of nodes) {
        let cursor = '0';
        do {
          const [next, keys] = await node.scan(cursor, 'MATCH', `${globEscape(this.prefix + prefix)}*`, 'COUNT', 1000);
          cursor = next;
          for (const k of keys) found.add(k.slice(this.prefix.length));
        } while (cursor !== '0');
      }
    });
    return [...found].sort();
  }

  async publish(channel: string, message: string): Promise<void> {
    await this.run(() => this.client.publish(this.k(channel), message));
  }

  private subscriber(): Promise<Client> {
    this.sub ??= (async () => {
      const sub: Client = this.client instanceof Cluster ? this.client.duplicate() : this.client.duplicate();
      sub.on('error', () => { /* reconnects on its own and re-subscribes */ });
      sub.on('message', (ch: string, msg: string) => {
        for (const h of this.handlers.get(ch.slice(this.prefix.length)) ?? []) h(msg);
      });
      await waitReady(sub, this.connectTimeout).catch((err) => { sub.disconnect(); this.sub = undefined; throw err; });
      return sub;
    })();
    return this.sub;
  }

  async subscribe(channel: string, onMessage: (message: string) => void): Promise<() => Promise<void>> {
    const sub = await this.subscriber();
    let set = this.handlers.get(channel);
    if (!set) {
      set = new Set();
      this.handlers.set(channel, set);
      try {
        await sub.subscribe(this.k(channel));
      } catch (err) {
        this.handlers.delete(channel);
        throw toStoreError(err);
      }
    }
    set.add(onMessage);
    return async () => {
      const s = this.handlers.get(channel);
      if (!s?.delete(onMessage) || s.size > 0) return;
      this.handlers.delete(channel);
      await sub.unsubscribe(this.k(channel)).catch(() => undefined);
    };
  }

  async ping(): Promise<void> {
    await this.run(() => this.client.ping());
  }

  async close(): Promise<void> {
    clearInterval(this.creditTimer);
    await this.returnCredits(this.credits.drain());
    const sub = this.sub ? await this.sub.catch(() => undefined) : undefined;
    sub?.disconnect();
    await this.client.quit().catch(() => this.client.disconnect());
  }
}
