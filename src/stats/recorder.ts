/**
 * Records delivery attempts and policy verdicts into hourly and daily stats buckets.
 * recordAttempt/recordVerdict only add to in-memory batches (no I/O on the delivery path);
 * flush() — every flushIntervalMs and on close() — writes one hincr per touched bucket hash
 * plus at most `samplesPerHour` sample replies per provider+reason+hour. Counters add up across
 * nodes, so several nodes may share one Redis.
 */
import { HincrBuffer } from '../store/hincr-buffer.js';
import { StatsKeys } from './key-cache.js';
import type { Store } from '../store/types.js';
import {
  ALL_SCOPE, DAY_MS, HOUR_MS, M, NO_TENANT, cleanPart, sampleBase,
  type Dimension, type Granularity,
} from './buckets.js';
import type { Outcome } from '../../relay/delivery/types.js';
import type { ReplyCategory } from '../../relay/delivery/reply-class.js';

/** hard: the reply class said permanent; soft: temporary failures until the message expired. */
export type BounceKind = 'hard' | 'soft';
/** The reply category of a failed attempt (`none` for a delivered one). */
export type Reason = ReplyCategory | 'none';
import { domainOf } from '../util/domain.js';

export interface StatsLogger {
  warn(obj: object, msg: string): void;
  info?(obj: object, msg: string): void;
}

export interface AttemptStat {
  at?: number | Date;
  tenant?: string;
  senderDomain: string;
  sender: string;
  provider: string;
  recipientDomain: string;
  mx?: string;
  outcome: Outcome;
  bounceKind?: BounceKind;
  reason: Reason;
  reply?: { code?: number | null; enhanced?: string | null; text?: string | null };
  /** Recipients this attempt was for (one SMTP transaction may carry several). Default 1. */
  count?: number;
  latencyMs?: number;
}

export interface VerdictRecord {
  at?: number | Date;
  tenant?: string;
  sender: string;
  /** Policy action, e.g. accept, reject, defer, hold. */
  action: string;
  reason?: string;
}

export interface SampleReply {
  at: number;
  code?: number;
  enhanced?: string;
  text: string;
  recipientDomain: string;
  mx?: string;
  outcome: Outcome;
}

export interface StatsRecorderOptions {
  store: Store;
  /** Daily buckets are kept this long. Default 90 days (config stats.retention_days). */
  retentionDays?: number;
  /** Hourly buckets and sample replies are kept this long. Default min(31, retentionDays). */
  hourlyRetentionDays?: number;
  /** 0 disables the timer (call flush() yourself). Default 1000 ms. */
  flushIntervalMs?: number;
  /** Sample replies kept per provider + reason + hour (per scope). Default 3. */
  samplesPerHour?: number;
  /** Batches kept in memory while the store is unreachable before dropping (fields). Default 100000. */
  maxPendingFields?: number;
  log?: StatsLogger;
}

export interface StatsRecorder {
  recordAttempt(a: AttemptStat): void;
  recordVerdict(v: VerdictRecord): void;
  /** Write pending batches to the store; resolves when written (or kept for retry on failure). */
  flush(): Promise<void>;
  /** Stop the timer and flush. */
  close(): Promise<void>;
}

const GRANULARITIES: Granularity[] = ['hour', 'day'];
const ONLY_ALL = [ALL_SCOPE];

function toMs(at: number | Date | undefined): number {
  return at === undefined ? Date.now() : typeof at === 'number' ? at : at.getTime();
}

function normId(s: string | undefined, fallback: string): string {
  const v = (s ?? '').trim().toLowerCase();
  return v === '' ? fallback : v.slice(0, 254);
}

/** Addresses in replies name real recipients: keep the domain only. */
function redactAddresses(text: string): string {
  return text.replace(/[A-Za-z0-9._%+!#$&'*/=?^`{|}~-]+@([A-Za-z0-9.-]+\.[A-Za-z]{2,})/g, '…@$1');
}

export function createStatsRecorder(opts: StatsRecorderOptions): StatsRecorder {
  const { store, log } = opts;
  const retentionDays = opts.retentionDays ?? 90;
  const ttl: Record<Granularity, number> = {
    day: retentionDays * DAY_MS,
    hour: (opts.hourlyRetentionDays ?? Math.min(31, retentionDays)) * DAY_MS,
  };
  const samplesPerHour = opts.samplesPerHour ?? 3;

  // Counters wait in memory until the next flush (kept and retried when the store is down).
  const counters = new HincrBuffer(store, {
    flushIntervalMs: 0,
    maxFields: opts.maxPendingFields ?? 100_000,
    onDrop: (fields) => log?.warn({ fields }, 'stats: store unreachable too long, dropping pending counters'),
  });
  let pendingSamples = new Map<string, SampleReply[]>();
  /** Sample slots known to be full on this node (other nodes may have filled them). */
  const fullSamples = new Map<string, number>();
  let failing = false;
  let flushing: Promise<void> | null = null;

  const names = new StatsKeys();

  /** Add metric values for one id under every scope and both granularities (every message: lean). */
  const addAll = (at: number, tenant: string | undefined, ids: Partial<Record<Dimension, string>>, metrics: Record<string, number>): void => {
    const scopes = tenant === undefined ? ONLY_ALL : [ALL_SCOPE, names.scope(tenant)];
    const idList = Object.entries(ids) as [Dimension, string][];
    const metricList = Object.entries(metrics);
    for (const g of GRANULARITIES) {
      for (const scope of scopes) {
        for (const [dim, id] of idList) {
          if (dim === 't' && scope !== ALL_SCOPE) continue;
          const key = names.bucket(g, at, scope, dim);
          for (const [m, n] of metricList) counters.addOne(key, names.field(id, m), n, ttl[g]);
        }
      }
    }
  };

  const recordAttempt = (a: AttemptStat): void => {
    const at = toMs(a.at);
    const n = Math.max(1, Math.round(a.count ?? 1));
    const metrics: Record<string, number> = { [a.outcome]: n };
    if (a.outcome === 'bounced' && a.bounceKind === 'soft') metrics[M.bouncedSoft] = n;
    if (a.outcome !== 'delivered') metrics[`${a.outcome}:${cleanPart(a.reason)}`] = n;
    if (a.latencyMs !== undefined && Number.isFinite(a.latencyMs)) {
      metrics[M.latencyMs] = Math.round(a.latencyMs);
      metrics[M.latencyN] = 1;
    }
    const provider = normId(a.provider, 'other');
    addAll(at, a.tenant, {
      p: provider,
      d: normId(a.recipientDomain, '?'),
      sd: normId(a.senderDomain, '?'),
      s: normId(a.sender, '<>'),
      t: a.tenant ?? NO_TENANT,
    }, metrics);

    if (a.outcome !== 'delivered' && samplesPerHour > 0) {
      const sample: SampleReply = {
        at,
        ...(a.reply?.code != null ? { code: a.reply.code } : {}),
        ...(a.reply?.enhanced ? { enhanced: a.reply.enhanced } : {}),
        text: redactAddresses(a.reply?.text ?? '').slice(0, 500),
        recipientDomain: normId(a.recipientDomain, '?'),
        ...(a.mx ? { mx: a.mx } : {}),
        outcome: a.outcome,
      };
      for (const scope of a.tenant === undefined ? [ALL_SCOPE] : [ALL_SCOPE, names.scope(a.tenant)]) {
        // Per outcome and reason: a 421 must not stand as the sample of a bounce for the same reason.
        const base = sampleBase(at, scope, provider, `${a.outcome}:${cleanPart(a.reason)}`);
        if (fullSamples.has(base)) continue;
        const list = pendingSamples.get(base) ?? [];
        if (list.length < samplesPerHour) pendingSamples.set(base, [...list, sample]);
      }
    }
  };

  const recordVerdict = (v: VerdictRecord): void => {
    const metrics = names.verdictMetrics(v.action, v.reason);
    const sender = normId(v.sender, '<>');
    addAll(toMs(v.at), v.tenant, { s: sender, sd: domainOf(sender) || '?', t: v.tenant ?? NO_TENANT }, metrics);
  };

  const writeSamples = async (base: string, samples: SampleReply[]): Promise<void> => {
    const hourTtl = ttl.hour;
    for (const s of samples) {
      if (fullSamples.has(base)) return;
      const slot = await store.incrBy(`${base}:n`, 1, hourTtl);
      if (slot > samplesPerHour) {
        fullSamples.set(base, s.at);
        return;
      }
      await store.setValue(`${base}:${slot}`, JSON.stringify(s), hourTtl);
    }
  };

  const doFlush = async (): Promise<void> => {
    const samples = pendingSamples;
    pendingSamples = new Map();
    const results = await Promise.allSettled([counters.flush(), ...[...samples].map(([base, list]) => writeSamples(base, list))]);
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) {
      // Unwritten counters stay in the buffer for the next flush; samples are best effort.
      if (!failing) log?.warn({ err: String(failed.reason) }, 'stats: flush failed, will retry');
      failing = true;
    } else if (failing) {
      failing = false;
      log?.info?.({}, 'stats: flush recovered');
    }
    // Forget "full" markers of samples recorded more than two hours ago (their hour is over).
    const cutoff = Date.now() - 2 * HOUR_MS;
    for (const [base, at] of fullSamples) if (at < cutoff) fullSamples.delete(base);
  };

  const flush = (): Promise<void> => {
    // One flush at a time; a flush requested meanwhile waits for it and then runs.
    const run = (flushing ?? Promise.resolve()).then(doFlush);
    const mine = run.finally(() => {
      if (flushing === mine) flushing = null;
    });
    flushing = mine;
    return mine;
  };

  const interval = opts.flushIntervalMs ?? 1000;
  const timer = interval > 0 ? setInterval(() => void flush().catch(() => {}), interval) : null;
  timer?.unref();

  return {
    recordAttempt,
    recordVerdict,
    flush,
    async close() {
      if (timer) clearInterval(timer);
      await flush();
    },
  };
}
