/**
 * The tenant directory: YAML seed + run-time changes kept in the store (doc namespaces "tenants"
 * and "clients"), which win over the seed until reset. Every node keeps an in-memory snapshot,
 * invalidated by a "tenants" notification (store publish/subscribe) so a change applies to the
 * next SMTP transaction on every node, plus a periodic refresh in case a notification was lost.
 * When the store is unreachable the last snapshot (or the seed) keeps serving.
 */
import type { Store } from '../store/types.js';
import { normalizeDomain } from '../util/domain.js';
import type { ClientIdentity } from '../../policies/types.js';
import type { ClientConfig, ClientView, TenantConfig, TenantView } from './types.js';
import { ConfigError, domainConflicts, parseClient, parseTenant, validateSeed, type Seed } from './validate.js';

export const TENANT_NS = 'tenants';
export const CLIENT_NS = 'clients';
export const CHANGE_CHANNEL = 'tenants';

type Stored<T> = { value: T } | { deleted: true };
interface Change { kind: 'tenant' | 'client'; id: string }

/** Immutable view used for one decision. */
export class DirectorySnapshot {
  private readonly exact = new Map<string, string>();
  private readonly wildcard = new Map<string, string>();

  constructor(
    readonly tenants: ReadonlyMap<string, TenantView>,
    readonly clients: ReadonlyMap<string, ClientView>,
  ) {
    // Seed tenants first, so a run-time change wins a domain both claim.
    const ordered = [...tenants.values()].sort((a, b) => (a.source === b.source ? 0 : a.source === 'seed' ? -1 : 1));
    for (const t of ordered) {
      for (const d of t.domains) {
        if (d.startsWith('*.')) this.wildcard.set(d.slice(2), t.id); else this.exact.set(d, t.id);
      }
    }
  }

  /** Tenant id owning an ASCII domain (exact entry, else the nearest "*.parent" entry). */
  tenantOf = (asciiDomain: string): string | undefined => {
    const exact = this.exact.get(asciiDomain);
    if (exact) return exact;
    for (let d = asciiDomain; d.includes('.'); d = d.slice(d.indexOf('.') + 1)) {
      const parent = d.slice(d.indexOf('.') + 1);
      const w = this.wildcard.get(parent);
      if (w) return w;
    }
    return undefined;
  };

  resolveSenderDomain(domain: string): TenantView | undefined {
    const ascii = normalizeDomain(domain);
    const id = ascii === null ? undefined : this.tenantOf(ascii);
    return id === undefined ? undefined : this.tenants.get(id);
  }

  /** Policy-facing identity of a configured client. */
  identity(name: string, address: string, authenticated: boolean): ClientIdentity | undefined {
    const c = this.clients.get(name);
    if (!c) return undefined;
    return { name, tenants: c.tenants, newsletter: c.newsletter, allowNullSender: c.allow_null_sender, address, authenticated };
  }
}

export interface TenantDirectoryOptions {
  store: Store;
  /** The parsed `tenants:` and `clients:` arrays of the main YAML file (validated here). */
  seed: { tenants?: unknown; clients?: unknown };
  /** For `${VAR}` in the seed only: changes through the API are stored literally. */
  env?: NodeJS.ProcessEnv;
  /** Safety-net refresh period (ms). Default 30 s. */
  refreshMs?: number;
  onError?: (err: unknown) => void;
}

export class TenantDirectory {
  private snap: DirectorySnapshot;
  private dirty = true;
  private loading?: Promise<DirectorySnapshot>;
  private lastFailure = 0;
  private unsubscribe?: () => Promise<void>;
  private timer?: NodeJS.Timeout;
  private readonly listeners = new Set<(change: Change) => void>();

  private constructor(private readonly store: Store, private seed: Seed, private readonly opts: TenantDirectoryOptions) {
    this.snap = this.build([], []);
  }

  /** Validates the seed (throws ConfigError), loads the store overlay and subscribes to changes. */
  static async create(opts: TenantDirectoryOptions): Promise<TenantDirectory> {
    const dir = new TenantDirectory(opts.store, validateSeed(opts.seed, opts.env), opts);
    try {
      dir.unsubscribe = await opts.store.subscribe(CHANGE_CHANNEL, (m) => dir.onChange(m));
    } catch (err) {
      opts.onError?.(err); // store down at start: serve the seed, the refresh timer catches up
    }
    dir.timer = setInterval(() => { dir.dirty = true; }, opts.refreshMs ?? 30_000).unref();
    await dir.snapshot();
    return dir;
  }

  /** Replaces the YAML seed (SIGHUP reload); throws ConfigError and keeps the old one if invalid. */
  setSeed(seed: { tenants?: unknown; clients?: unknown }): void {
    this.seed = validateSeed(seed, this.opts.env);
    this.dirty = true;
  }

  /** Called with every change notification (any node), after the cache was invalidated. */
  onChanged(listener: (change: Change) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private onChange(message: string): void {
    this.dirty = true;
    let change: Change | undefined;
    try { change = JSON.parse(message) as Change; } catch { return; }
    for (const l of this.listeners) l(change);
  }

  private build(tenantDocs: { key: string; value: Stored<TenantConfig> }[], clientDocs: { key: string; value: Stored<ClientConfig> }[]): DirectorySnapshot {
    const tenants = new Map<string, TenantConfig & { source: 'seed' | 'store' }>();
    for (const t of this.seed.tenants) tenants.set(t.id, { ...t, source: 'seed' });
    for (const d of tenantDocs) {
      if ('deleted' in d.value) tenants.delete(d.key); else tenants.set(d.key, { ...d.value.value, source: 'store' });
    }
    const clients = new Map<string, ClientView>();
    for (const c of this.seed.clients) clients.set(c.name, { ...c, source: 'seed' });
    for (const d of clientDocs) {
      if ('deleted' in d.value) clients.delete(d.key); else clients.set(d.key, { ...d.value.value, source: 'store' });
    }
    const views = new Map<string, TenantView>();
    for (const [id, t] of tenants) {
      const allowed = [...clients.values()].filter((c) => c.tenants.includes(id)).map((c) => c.name).sort();
      views.set(id, { ...t, clients: allowed });
    }
    return new DirectorySnapshot(views, clients);
  }

  /**
   * The snapshot when no reload is due, else undefined (then await snapshot()): the per-message
   * path reads it without a promise.
   */
  cached(): DirectorySnapshot | undefined {
    return !this.dirty || Date.now() - this.lastFailure < 1000 ? this.snap : undefined;
  }

  /** Current snapshot; reloads from the store when a change was announced. */
  async snapshot(): Promise<DirectorySnapshot> {
    if (!this.dirty || Date.now() - this.lastFailure < 1000) return this.snap;
    this.loading ??= (async () => {
      try {
        this.dirty = false;
        const [t, c] = await Promise.all([
          this.store.listDocs<Stored<TenantConfig>>(TENANT_NS),
          this.store.listDocs<Stored<ClientConfig>>(CLIENT_NS),
        ]);
        this.snap = this.build(t, c);
      } catch (err) {
        this.dirty = true;
        this.lastFailure = Date.now();
        this.opts.onError?.(err);
      } finally {
        this.loading = undefined;
      }
      return this.snap;
    })();
    return this.loading;
  }

  /** True while the last reload from the store failed (the snapshot may be out of date). */
  get degraded(): boolean {
    return this.dirty && this.lastFailure > 0 && Date.now() - this.lastFailure < 60_000;
  }

  async resolveSenderDomain(domain: string): Promise<TenantView | undefined> {
    return (await this.snapshot()).resolveSenderDomain(domain);
  }

  async get(id: string): Promise<TenantView | undefined> {
    return (await this.snapshot()).tenants.get(id);
  }

  async list(): Promise<TenantView[]> {
    return [...(await this.snapshot()).tenants.values()].sort((a, b) => a.id.localeCompare(b.id));
  }

  async getClient(name: string): Promise<ClientView | undefined> {
    return (await this.snapshot()).clients.get(name);
  }

  async listClients(): Promise<ClientView[]> {
    return [...(await this.snapshot()).clients.values()].sort((a, b) => a.name.localeCompare(b.name));
  }

  private async changed(change: Change): Promise<void> {
    this.dirty = true;
    this.lastFailure = 0;
    await this.store.publish(CHANGE_CHANNEL, JSON.stringify(change));
  }

  /** Create or replace a tenant (same shape as the YAML); throws ConfigError when invalid. */
  async upsert(raw: unknown): Promise<TenantView> {
    const t = parseTenant(raw);
    const others = [...(await this.fresh()).tenants.values()].filter((x) => x.id !== t.id);
    const conflicts = domainConflicts([...others, t], (i) => (i === others.length ? 'tenant' : `tenants[${i}]`)).filter((c) => c.startsWith('tenant.'));
    if (conflicts.length) throw new ConfigError(conflicts);
    await this.store.putDoc<Stored<TenantConfig>>(TENANT_NS, t.id, { value: t });
    await this.changed({ kind: 'tenant', id: t.id });
    return (await this.get(t.id))!;
  }

  /** Remove a tenant (a seed tenant stays removed until resetToSeed). */
  async remove(id: string): Promise<boolean> {
    const existed = (await this.fresh()).tenants.has(id);
    if (this.seed.tenants.some((t) => t.id === id)) await this.store.putDoc<Stored<TenantConfig>>(TENANT_NS, id, { deleted: true });
    else await this.store.deleteDoc(TENANT_NS, id);
    await this.changed({ kind: 'tenant', id });
    return existed;
  }

  /** Forget run-time changes of a tenant: the YAML seed applies again (or it disappears). */
  async resetToSeed(id: string): Promise<TenantView | undefined> {
    await this.store.deleteDoc(TENANT_NS, id);
    await this.changed({ kind: 'tenant', id });
    return this.get(id);
  }

  async upsertClient(raw: unknown): Promise<ClientView> {
    const ids = new Set((await this.fresh()).tenants.keys());
    const c = parseClient(raw, ids);
    await this.store.putDoc<Stored<ClientConfig>>(CLIENT_NS, c.name, { value: c });
    await this.changed({ kind: 'client', id: c.name });
    return (await this.getClient(c.name))!;
  }

  async removeClient(name: string): Promise<boolean> {
    const existed = (await this.fresh()).clients.has(name);
    if (this.seed.clients.some((c) => c.name === name)) await this.store.putDoc<Stored<ClientConfig>>(CLIENT_NS, name, { deleted: true });
    else await this.store.deleteDoc(CLIENT_NS, name);
    await this.changed({ kind: 'client', id: name });
    return existed;
  }

  async resetClientToSeed(name: string): Promise<ClientView | undefined> {
    await this.store.deleteDoc(CLIENT_NS, name);
    await this.changed({ kind: 'client', id: name });
    return this.getClient(name);
  }

  /** Snapshot re-read from the store (writes validate against the latest state). */
  private async fresh(): Promise<DirectorySnapshot> {
    this.dirty = true;
    this.lastFailure = 0;
    return this.snapshot();
  }

  async close(): Promise<void> {
    clearInterval(this.timer);
    await this.unsubscribe?.().catch(() => undefined);
  }
}
