/**
 * The queue runner: keeps, for every queued envelope not on hold, when it is due
 * (max(nextAttemptAt, notBefore)); runs due ones up to the in-flight caps (total and per
 * recipient domain, so one slow provider cannot take every slot), and re-files each envelope
 * once its run is over. Fed by the spool's events and a scan at start. Ready envelopes are
 * grouped by their set of destination domains, so a capped domain (thousands of messages for one
 * provider) is skipped in one step instead of being rescanned message by message. Person-to-person
 * mail is taken before newsletter mail.
 *
 * A run that finds a provider without budget for its pool (suspended, warm-up volume spent, rate
 * or concurrent slots taken: relay/delivery/shaper.ts) says so instead of waiting, and the
 * envelope is parked in memory under that pool and provider; it comes back when the shaper has
 * capacity (at the time it gave, or when it reports the key open), personal mail first. So a
 * provider holding thousands of messages occupies no run slot and slows no other provider.
 */
import { setMaxListeners } from 'node:events';
import type { Logger } from 'pino';
import { type Envelope, pendingRecipients } from '../spool/envelope.js';
import { domainOf } from '../../src/util/domain.js';
import type { Spool } from '../spool/spool.js';
import type { RunOutcome } from './run-envelope.js';
import { priorityOf, type Priority } from './shaper.js';

export interface SchedulerOptions {
  maxInFlight: number;
  maxInFlightPerDomain: number;
}

export type RunFn = (env: Envelope, signal: AbortSignal) => Promise<RunOutcome | void>;

/** The provider budgets parked envelopes wait for (the shaper). */
export interface ParkingGate {
  /** How many attempts of this priority the key would admit now. */
  capacity(key: string, priority: Priority, now: number): number;
  onOpen(fn: (key: string) => void): void;
}

const PRIORITIES: readonly Priority[] = ['personal', 'bulk'];

const MAX_TIMER_MS = 60 * 60_000;

export class Scheduler {
  /** Ready ids grouped by priority and destination-domain set ("p|a.org,b.net"), each group in arrival order. */
  private readonly ready: Record<Priority, Map<string, Set<string>>> = { personal: new Map(), bulk: new Map() };
  private readonly readyKeyOf = new Map<string, string>();
  private readonly keyDomains = new Map<string, string[]>();
  private readonly waiting = new Map<string, number>();
  private readonly inFlight = new Map<string, Promise<void>>();
  private readonly perDomain = new Map<string, number>();
  /** Parked ids per shaper key (pool|provider) and priority, and when to look at the key again. */
  private readonly parked = new Map<string, Record<Priority, Set<string>>>();
  private readonly parkedKeyOf = new Map<string, string>();
  private readonly parkWake = new Map<string, number>();
  private readonly openKeys = new Set<string>();
  private timer: NodeJS.Timeout | null = null;
  private timerAt = Infinity;
  private pumpQueued = false;
  private running = false;
  /**
   * Stops every run at shutdown. Each run waiting for a connection slot or a pace listens on it,
   * so it has as many listeners as runs in flight: no "possible leak" warning past 10.
   */
  readonly abort = (() => {
    const c = new AbortController();
    setMaxListeners(0, c.signal);
    return c;
  })();

  private readonly onQueued = (env: Envelope) => this.file(env);
  private readonly onChanged = (env: Envelope) => this.file(env);
  private readonly onRemoved = (id: string) => this.forget(id);

  constructor(
    private readonly spool: Spool,
    private readonly run: RunFn,
    private readonly o: SchedulerOptions,
    private readonly log: Logger,
    private readonly gate?: ParkingGate,
  ) {
    gate?.onOpen((key) => {
      if (!this.parked.has(key)) return;
      this.openKeys.add(key);
      this.schedulePump();
    });
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.spool.on('queued', this.onQueued);
    this.spool.on('changed', this.onChanged);
    this.spool.on('removed', this.onRemoved);
    for (const env of this.spool.list()) this.file(env);
    this.log.info({ ready: this.readyKeyOf.size, waiting: this.waiting.size }, 'delivery: queue runner started');
  }

  /** Stops taking new work; resolves when in-flight runs finished or `timeoutMs` passed (then aborts them). */
  async stop(timeoutMs: number): Promise<void> {
    if (!this.running) return;
    this.running = false;
    this.spool.off('queued', this.onQueued);
    this.spool.off('changed', this.onChanged);
    this.spool.off('removed', this.onRemoved);
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    const all = Promise.allSettled([...this.inFlight.values()]);
    let t: NodeJS.Timeout | undefined;
    const timedOut = await Promise.race([all.then(() => false), new Promise<boolean>((r) => (t = setTimeout(() => r(true), timeoutMs)))]);
    clearTimeout(t);
    if (timedOut) {
      this.log.warn({ inFlight: this.inFlight.size }, 'delivery: stop timeout, aborting in-flight deliveries');
      this.abort.abort(new Error('delivery stopped'));
      await Promise.race([all, new Promise((r) => setTimeout(r, 1000).unref())]);
    }
  }

  /** (Re)classifies an envelope: ready now, waiting for its time, or out (hold / in flight). */
  file(env: Envelope): void {
    if (!this.running || this.inFlight.has(env.id)) return;
    this.forget(env.id);
    if (env.state === 'hold') return;
    const due = Math.max(env.nextAttemptAt ?? 0, env.notBefore ?? 0);
    if (due <= Date.now()) {
      this.makeReady(env);
      this.schedulePump();
    } else {
      this.waiting.set(env.id, due);
      this.arm(due);
    }
  }

  private makeReady(env: Envelope): void {
    const domains = [...new Set(pendingRecipients(env).map((r) => domainOf(r.address)))].sort();
    const prio = priorityOf(env);
    const key = `${prio[0]}|${domains.join(',')}`;
    const ready = this.ready[prio];
    let ids = ready.get(key);
    if (!ids) {
      ids = new Set();
      ready.set(key, ids);
      this.keyDomains.set(key, domains);
    }
    ids.add(env.id);
    this.readyKeyOf.set(env.id, key);
  }

  private forget(id: string): void {
    this.waiting.delete(id);
    const pk = this.parkedKeyOf.get(id);
    if (pk !== undefined) {
      this.parkedKeyOf.delete(id);
      const sets = this.parked.get(pk)!;
      sets.personal.delete(id);
      sets.bulk.delete(id);
      if (!sets.personal.size && !sets.bulk.size) {
        this.parked.delete(pk);
        this.parkWake.delete(pk);
      }
    }
    const key = this.readyKeyOf.get(id);
    if (key === undefined) return;
    this.readyKeyOf.delete(id);
    const ready = this.ready[key[0] === 'p' ? 'personal' : 'bulk'];
    const ids = ready.get(key);
    ids?.delete(id);
    if (ids && ids.size === 0) {
      ready.delete(key);
      this.keyDomains.delete(key);
    }
  }

  /** Out of the ready queue until its provider budget has room (see the class comment). */
  private park(env: Envelope, key: string, retryAt: number): void {
    this.forget(env.id);
    let sets = this.parked.get(key);
    if (!sets) this.parked.set(key, (sets = { personal: new Set(), bulk: new Set() }));
    sets[priorityOf(env)].add(env.id);
    this.parkedKeyOf.set(env.id, key);
    const wake = this.parkWake.get(key);
    if (wake === undefined || retryAt < wake) {
      this.parkWake.set(key, retryAt);
      this.arm(retryAt);
    }
  }

  /** Puts back as many parked envelopes as the key admits now (at least one, to learn its next time). */
  private unpark(key: string): void {
    const sets = this.parked.get(key);
    this.parkWake.delete(key);
    if (!sets) return;
    const now = Date.now();
    let released = 0;
    for (const prio of PRIORITIES) {
      let n = this.gate ? this.gate.capacity(key, prio, now) : Infinity;
      if (released === 0 && prio === 'bulk' && !sets.personal.size) n = Math.max(1, n);
      for (const id of sets[prio]) {
        if (n-- <= 0) break;
        const env = this.spool.get(id);
        this.forget(id);
        if (env) this.file(env);
        released++;
      }
      if (released === 0 && prio === 'personal' && sets.personal.size) {
        const id = sets.personal.values().next().value as string;
        const env = this.spool.get(id);
        this.forget(id);
        if (env) this.file(env);
        released++;
      }
    }
  }

  private arm(due: number): void {
    if (due >= this.timerAt && this.timer) return;
    if (this.timer) clearTimeout(this.timer);
    this.timerAt = due;
    this.timer = setTimeout(() => this.onTimer(), Math.min(MAX_TIMER_MS, Math.max(0, due - Date.now())));
  }

  private onTimer(): void {
    this.timer = null;
    this.timerAt = Infinity;
    const now = Date.now();
    let next = Infinity;
    for (const [id, due] of this.waiting) {
      if (due <= now) {
        this.waiting.delete(id);
        const env = this.spool.get(id);
        if (env && env.state !== 'hold') this.makeReady(env);
      } else if (due < next) next = due;
    }
    for (const [key, due] of [...this.parkWake]) {
      if (due <= now) this.unpark(key);
      else if (due < next) next = due;
    }
    if (next < Infinity) this.arm(next);
    this.schedulePump();
  }

  private schedulePump(): void {
    if (this.pumpQueued) return;
    this.pumpQueued = true;
    setImmediate(() => {
      this.pumpQueued = false;
      this.pump();
    });
  }

  private pump(): void {
    for (const key of this.openKeys) this.unpark(key);
    this.openKeys.clear();
    const capped = (domains: string[]) => domains.some((d) => (this.perDomain.get(d) ?? 0) >= this.o.maxInFlightPerDomain);
    for (const prio of PRIORITIES) {
      for (const [key, ids] of this.ready[prio]) {
        if (!this.running || this.inFlight.size >= this.o.maxInFlight) return;
        const domains = this.keyDomains.get(key)!;
        for (const id of ids) {
          if (this.inFlight.size >= this.o.maxInFlight || capped(domains)) break;
          this.forget(id);
          const env = this.spool.get(id);
          if (env && env.state !== 'hold') this.launch(env, domains);
        }
      }
    }
  }

  private launch(env: Envelope, domains: string[]): void {
    for (const d of domains) this.perDomain.set(d, (this.perDomain.get(d) ?? 0) + 1);
    let failed = false;
    let outcome: RunOutcome | void;
    const p = this.run(env, this.abort.signal)
      .then((o) => {
        outcome = o;
      })
      .catch((err: unknown) => {
        failed = true;
        this.log.error({ err, queueId: env.id }, 'delivery: run failed');
      })
      .finally(() => {
        for (const d of domains) {
          const n = (this.perDomain.get(d) ?? 1) - 1;
          if (n > 0) this.perDomain.set(d, n);
          else this.perDomain.delete(d);
        }
        this.inFlight.delete(env.id);
        const current = this.spool.get(env.id);
        const parked = outcome?.parked[0];
        if (current && failed && this.running) {
          // Local failure (disk...): retry in a minute rather than spin.
          this.waiting.set(env.id, Date.now() + 60_000);
          this.arm(Date.now() + 60_000);
        } else if (current && parked && this.running && current.state !== 'hold') {
          this.park(current, parked.key, parked.retryAt);
        } else if (current) this.file(current);
        this.schedulePump();
      });
    this.inFlight.set(env.id, p);
  }

  isInFlight(id: string): boolean {
    return this.inFlight.has(id);
  }

  stats(): { inFlight: number; ready: number; waiting: number; parked: number } {
    return { inFlight: this.inFlight.size, ready: this.readyKeyOf.size, waiting: this.waiting.size, parked: this.parkedKeyOf.size };
  }
}
