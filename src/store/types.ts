/**
 * The store: everything several Relais nodes must share (tenants, clients, tokens, DKIM keys,
 * quota counters, stats buckets, idempotency keys). Two implementations pass the same contract
 * tests: Redis (production, shared by nodes) and an embedded LMDB store (single node).
 * Every method may reject with StoreUnavailableError when the backend is unreachable; callers
 * turn that into a 4xx tempfail, never into an accepted-but-uncounted message.
 */

export class StoreUnavailableError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'StoreUnavailableError';
  }
}

/** One limit to check-and-consume atomically (sliding window / GCRA, not fixed windows). */
export interface LimitRequest {
  /** Namespaced counter key, e.g. "mailbox:alice@x.org:messages:hour". */
  key: string;
  /** Maximum units allowed within the window. */
  limit: number;
  /** Window length in milliseconds. */
  windowMs: number;
  /** Units this request consumes (1 per message, N per message for recipients). */
  cost: number;
}

export interface LimitState {
  key: string;
  limit: number;
  windowMs: number;
  /** Units used in the window ending now (after the consume if it was allowed). */
  used: number;
  /** Epoch ms when enough units free up for the refused cost (or when usage is back to 0). */
  resetAt: number;
}

export interface ConsumeResult {
  allowed: boolean;
  /** When refused: the first limit that refused. */
  refused?: LimitState;
  /** State of every requested limit. */
  states: LimitState[];
}

export interface ReserveResult {
  /** Epoch ms at which the units were booked (== now when there was room right away). */
  at: number;
  /** State of every requested limit as seen from `now`, after the booking. */
  states: LimitState[];
}

export interface WindowSetAddResult {
  /** Distinct live members after the add. */
  size: number;
  /** Members of this call that were not live before it. */
  fresh: string[];
}

/** One counter operation of a batch (Store.countAndConsume); each is atomic on its own. */
export type CounterOp =
  /**
   * Add to a running sum that expires ttlMs after its last update → the new sum. With
   * `ifExists`, a sum that does not exist yet is not started: the result is then `by` alone.
   * `indexedBy` (with ifExists) names an earlier op of the batch, a window set that lists the
   * sums of its kind while they live: when that set is known to be empty, a store may answer
   * `by` without looking the sum up.
   */
  | { kind: 'incr'; key: string; by: number; ttlMs: number; ifExists?: boolean; indexedBy?: number }
  /**
   * Add members to a window set (see windowSetAdd) → size and fresh members. With `staleMs`
   * (and `now`), a store shared by nodes may answer from this node's reading of the set when
   * every member is one this node added lately (so none is fresh): the size may then lack what
   * other nodes added in the last `staleMs`, never what this node added.
   */
  | { kind: 'windowSet'; key: string; members: string[]; windowMs: number; now?: number; staleMs?: number }
  /**
   * The same for a caller that needs only the size → the size. Cheaper on Redis: the set is
   * trimmed and its expiry renewed once per 1/64 window per node, not on every call.
   */
  | { kind: 'windowCount'; key: string; members: string[]; windowMs: number; now?: number; staleMs?: number }
  /** Read hash counters (see hgetall). */
  | { kind: 'hash'; key: string };

export type CounterResult<O extends CounterOp> =
  O extends { kind: 'incr' | 'windowCount' } ? number : O extends { kind: 'windowSet' } ? WindowSetAddResult : Record<string, number>;

/** The quota charge of Store.countAndConsume and the counter values that cancel it. */
export interface ConditionalConsume {
  requests: LimitRequest[];
  now?: number;
  /** Skip the consume when any op's value reaches its threshold (incr: the sum; windowSet: the size). */
  skipIf: { op: number; atLeast: number }[];
}

export interface DocEntry<T> {
  key: string;
  value: T;
}

export interface Store {
  readonly kind: 'redis' | 'embedded';

  /** Documents (JSON values) in a namespace: tenants, clients, tokens, dkim keys, settings. */
  getDoc<T>(ns: string, key: string): Promise<T | null>;
  putDoc<T>(ns: string, key: string, value: T): Promise<void>;
  deleteDoc(ns: string, key: string): Promise<boolean>;
  listDocs<T>(ns: string): Promise<DocEntry<T>[]>;

  /**
   * All-or-nothing check-and-consume over several limits (mailbox, domain, tenant...): either
   * every limit has room and all are charged, or nothing is charged. Atomic across nodes.
   */
  consume(requests: LimitRequest[], now?: number): Promise<ConsumeResult>;
  /**
   * Pacing for newsletter mail (never refused): charge every limit at the earliest time t >= now
   * when all have room (t >= the newest charge already booked, so bookings stay FIFO) and return
   * t. Keys used with reserve must not be used with consume.
   */
  reserve(requests: LimitRequest[], now?: number): Promise<ReserveResult>;
  /** Current usage of limits without consuming. */
  peek(requests: Omit<LimitRequest, 'cost'>[], now?: number): Promise<LimitState[]>;
  /** Forget usage of counter keys (admin reset). */
  resetLimits(keys: string[]): Promise<void>;

  /** Add to a running sum that expires ttlMs after its last update; returns the new sum. */
  incrBy(key: string, by: number, ttlMs: number): Promise<number>;
  /**
   * Add members to a set whose members expire windowMs after they were added; returns the number
   * of distinct live members. Used for distinct recipients per day, content fingerprints.
   */
  addToWindowSet(key: string, members: string[], windowMs: number, now?: number): Promise<number>;
  /** Like addToWindowSet, but also says which members were not live before this call. */
  windowSetAdd(key: string, members: string[], windowMs: number, now?: number): Promise<WindowSetAddResult>;
  /**
   * A message's counters, then its quota consume unless a counter crossed a threshold (a bulk
   * message is refused and must not use quota), in one round trip and one atomic step. `consume`
   * is null when it was skipped (or not asked for: no requests). On Redis Cluster all keys must
   * share one hash tag.
   */
  countAndConsume(ops: readonly CounterOp[], consume: ConditionalConsume): Promise<{ counters: CounterResult<CounterOp>[]; consume: ConsumeResult | null }>;
  /** Set key to value if absent (with TTL); returns the existing value, or null when it was set. */
  setIfAbsent(key: string, value: string, ttlMs: number): Promise<string | null>;
  getValue(key: string): Promise<string | null>;
  setValue(key: string, value: string, ttlMs?: number): Promise<void>;
  deleteValue(key: string): Promise<void>;

  /** Hash counters (stats buckets): add to several fields at once, bucket expires after ttlMs. */
  hincr(key: string, fields: Record<string, number>, ttlMs: number): Promise<void>;
  /** Several hincr at once, in one transaction / round trip (stats flushes). */
  hincrMany(entries: Array<{ key: string; fields: Record<string, number>; ttlMs: number }>): Promise<void>;
  hgetall(key: string): Promise<Record<string, number>>;
  /** Keys of hash buckets with a given prefix (e.g. "stats:h:2026112614"). */
  scanKeys(prefix: string): Promise<string[]>;

  /** Publish/subscribe for "tenant changed" notifications across nodes. */
  publish(channel: string, message: string): Promise<void>;
  subscribe(channel: string, onMessage: (message: string) => void): Promise<() => Promise<void>>;

  ping(): Promise<void>;
  close(): Promise<void>;
}
