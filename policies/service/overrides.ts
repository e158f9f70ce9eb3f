/**
 * Run-time limit overrides (doc namespace "limit-overrides", key "<level>:<id>"), cached in memory
 * on every node: reading three documents per message cost more than the quota check itself. A
 * change is announced on the "limit-overrides" channel, so it applies to the next transaction on
 * every node; a periodic reload covers a lost notification. With the store down, the last loaded
 * set keeps serving (the quota consume tempfails anyway).
 */
import type { Store } from '../../src/store/types.js';
import type { LevelLimits, LimitLevel, LimitSet } from '../limits.js';
import { levelIds, type SenderScope } from './quota.js';

export const OVERRIDE_NS = 'limit-overrides';
const CHANNEL = 'limit-overrides';

export function overridesFor(all: ReadonlyMap<string, LimitSet>, s: SenderScope): LevelLimits {
  const ids = levelIds(s);
  const out: LevelLimits = {};
  for (const level of ['mailbox', 'domain', 'tenant'] as const) {
    const v = ids[level] === undefined ? undefined : all.get(`${level}:${ids[level]}`);
    if (v) out[level] = v;
  }
  return out;
}

export class OverrideCache {
  private all?: Map<string, LimitSet>;
  private dirty = true;
  private loading?: Promise<Map<string, LimitSet>>;
  private subscribed?: Promise<unknown>;
  private unsubscribe?: () => Promise<void>;
  private readonly timer: NodeJS.Timeout;

  constructor(private readonly store: Store, refreshMs = 30_000) {
    this.timer = setInterval(() => { this.dirty = true; }, refreshMs).unref();
  }

  /** Overrides that apply to a sender, by level. */
  async forScope(s: SenderScope): Promise<LevelLimits> {
    return overridesFor(await this.load(), s);
  }

  /** All overrides ("<level>:<id>" → limits); a new map whenever they were reloaded. */
  current(): Promise<ReadonlyMap<string, LimitSet>> {
    return this.load();
  }

  /** The overrides when no reload is due (and the store subscription is up), else undefined. */
  cached(): ReadonlyMap<string, LimitSet> | undefined {
    return !this.dirty && this.subscribed ? this.all : undefined;
  }

  async list(): Promise<{ level: LimitLevel; id: string; limits: LimitSet }[]> {
    return (await this.store.listDocs<LimitSet>(OVERRIDE_NS)).map(({ key, value }) => {
      const i = key.indexOf(':');
      return { level: key.slice(0, i) as LimitLevel, id: key.slice(i + 1), limits: value };
    });
  }

  async set(level: LimitLevel, id: string, limits: LimitSet): Promise<void> {
    await this.store.putDoc(OVERRIDE_NS, `${level}:${id}`, limits);
    await this.changed();
  }

  async clear(level: LimitLevel, id: string): Promise<boolean> {
    const existed = await this.store.deleteDoc(OVERRIDE_NS, `${level}:${id}`);
    await this.changed();
    return existed;
  }

  private async changed(): Promise<void> {
    this.dirty = true;
    await this.store.publish(CHANNEL, 'changed').catch(() => undefined);
  }

  private load(): Promise<Map<string, LimitSet>> {
    // Subscribe on first use, and again after a failure (store down when the relay started).
    this.subscribed ??= this.store.subscribe(CHANNEL, () => { this.dirty = true; }).then(
      (off) => { this.unsubscribe = off; },
      () => { this.subscribed = undefined; },
    );
    if (!this.dirty && this.all) return Promise.resolve(this.all);
    this.loading ??= (async () => {
      try {
        this.dirty = false;
        const docs = await this.store.listDocs<LimitSet>(OVERRIDE_NS);
        this.all = new Map(docs.map((d) => [d.key, d.value]));
      } catch (err) {
        this.dirty = true;
        if (!this.all) throw err;
      } finally {
        this.loading = undefined;
      }
      return this.all;
    })();
    return this.loading;
  }

  async close(): Promise<void> {
    clearInterval(this.timer);
    await this.unsubscribe?.();
  }
}
