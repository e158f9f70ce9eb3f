/**
 * Destination providers (config/providers.yaml): who operates the recipient's mailbox, the
 * delivery shaping preset for it, and the automation rules (what a reply about us does to
 * sending to it, see provider-automation.ts).
 * Matching is by MX host first (a custom domain hosted at Google is Google), then by the
 * well-known recipient domain; everything else is `other`.
 */
import type { AutomationConfig } from '../relay/delivery/shaping-types.js';
import { loadDataFile } from './data-file.js';
import { parseAutomationDefaults, parseAutomationOverride } from './provider-automation.js';
import { ConfigError, bool, duration, fail, inFile, list, mapping, num, oneOf, onlyKeys, optStr, posInt, regex, str, type Obj } from './validate.js';

export interface ShapingPreset {
  maxConnections: number;
  messagesPerConnection: number;
  /** null = unlimited. */
  messagesPerMinute: number | null;
  tlsRequired: boolean;
}

export interface ProviderInfo {
  id: string;
  name: string;
  usGiant: boolean;
  shaping: ShapingPreset;
}

export interface ProviderCatalog {
  readonly providers: readonly ProviderInfo[];
  /** Reply-driven shaping: defaults, and what each provider overrides. */
  readonly automation: { defaults: AutomationConfig; providers: Record<string, Partial<AutomationConfig>> };
  /** Ids of providers flagged us_giant. */
  readonly usGiants: readonly string[];
  get(id: string): ProviderInfo | undefined;
  providerForMx(mxHost: string): ProviderInfo;
  providerForDomain(domain: string, mxHost?: string): ProviderInfo;
}

export const OTHER_PROVIDER_ID = 'other';

interface MxPattern {
  re: RegExp;
  provider: ProviderInfo;
}

/** Glob → anchored regex: `*` matches any run of host characters (dots included). */
function globToRegex(glob: string): RegExp {
  const body = glob
    .toLowerCase()
    .split('*')
    .map((part) => part.replace(/[.+?^${}()|[\]\\]/g, '\\$&'))
    .join('[a-z0-9.-]*');
  return new RegExp(`^${body}$`);
}

function normHost(h: string): string {
  return h.trim().toLowerCase().replace(/\.$/, '');
}

const SHAPING_KEYS = ['max_connections', 'messages_per_connection', 'messages_per_minute', 'tls_required'] as const;

function parseShaping(raw: unknown, key: string, base: ShapingPreset | null): ShapingPreset {
  const o = raw === undefined && base ? {} : mapping(raw, key);
  onlyKeys(o, key, SHAPING_KEYS);
  const pick = <T>(k: string, conv: (v: unknown, key: string) => T, dflt: T | undefined): T => {
    if (o[k] === undefined) {
      if (dflt === undefined) fail(`${key}.${k}`, 'is required');
      return dflt;
    }
    return conv(o[k], `${key}.${k}`);
  };
  return {
    maxConnections: pick('max_connections', (v, k) => posInt(v, k), base?.maxConnections),
    messagesPerConnection: pick('messages_per_connection', (v, k) => posInt(v, k), base?.messagesPerConnection),
    messagesPerMinute: pick<number | null>(
      'messages_per_minute',
      (v, k) => (v === null ? null : posInt(v, k)),
      base ? base.messagesPerMinute : null,
    ),
    tlsRequired: pick('tls_required', (v, k) => bool(v, k, false), base?.tlsRequired ?? false),
  };
}

/** Build a catalog from parsed YAML (an object); `source` names the file in errors. */
export function buildProviderCatalog(doc: unknown, source = 'providers.yaml'): ProviderCatalog {
  return inFile(source, () => catalogOf(doc));
}

function catalogOf(doc: unknown): ProviderCatalog {
  const root: Obj = mapping(doc, '(root)');
  onlyKeys(root, '', ['defaults', 'providers', 'automation']);
  const defaults = parseShaping(root.defaults, 'defaults', null);
  const automation: ProviderCatalog['automation'] = { defaults: parseAutomationDefaults(root.automation), providers: {} };

  const providers: ProviderInfo[] = [];
  const byId = new Map<string, ProviderInfo>();
  const mxPatterns: MxPattern[] = [];
  const byDomain = new Map<string, ProviderInfo>();
  list(root.providers, 'providers').forEach((raw, i) => {
    const key = `providers[${i}]`;
    const o = mapping(raw, key);
    onlyKeys(o, key, ['id', 'name', 'us_giant', 'mx', 'domains', 'shaping', 'automation']);
    const id = str(o.id, `${key}.id`);
    if (!/^[a-z0-9_-]+$/.test(id)) fail(`${key}.id`, 'must be lowercase letters, digits, - or _');
    if (byId.has(id) || id === OTHER_PROVIDER_ID) fail(`${key}.id`, `"${id}" is duplicated or reserved`);
    const info: ProviderInfo = {
      id,
      name: str(o.name, `${key}.name`),
      usGiant: bool(o.us_giant, `${key}.us_giant`, false),
      shaping: parseShaping(o.shaping, `${key}.shaping`, defaults),
    };
    providers.push(info);
    byId.set(id, info);
    if (o.automation !== undefined) automation.providers[id] = parseAutomationOverride(o.automation, `${key}.automation`);
    (o.mx === undefined ? [] : list(o.mx, `${key}.mx`)).forEach((p, j) => {
      mxPatterns.push({ re: globToRegex(str(p, `${key}.mx[${j}]`)), provider: info });
    });
    (o.domains === undefined ? [] : list(o.domains, `${key}.domains`)).forEach((d, j) => {
      const dom = normHost(str(d, `${key}.domains[${j}]`));
      if (byDomain.has(dom)) fail(`${key}.domains[${j}]`, `"${dom}" is already listed for ${byDomain.get(dom)!.id}`);
      byDomain.set(dom, info);
    });
  });
  const other: ProviderInfo = { id: OTHER_PROVIDER_ID, name: 'Autres / Others', usGiant: false, shaping: defaults };
  providers.push(other);
  byId.set(other.id, other);

  const providerForMx = (mxHost: string): ProviderInfo => {
    const h = normHost(mxHost);
    for (const p of mxPatterns) if (p.re.test(h)) return p.provider;
    return other;
  };

  return {
    providers,
    automation,
    usGiants: providers.filter((p) => p.usGiant).map((p) => p.id),
    get: (id) => byId.get(id),
    providerForMx,
    providerForDomain(domain, mxHost) {
      if (mxHost) {
        const p = providerForMx(mxHost);
        if (p !== other) return p;
      }
      return byDomain.get(normHost(domain)) ?? other;
    },
  };
}

/** Read and validate a providers file (defaults to config/providers.yaml of the repo). */
export function loadProviders(path?: string): ProviderCatalog {
  return loadDataFile('providers.yaml', buildProviderCatalog, path);
}

/** Warm-up schedules name providers of the catalogue: a typo ("gmail" for "google") would leave that
 * provider unwarmed without a word. Checked where both files are known (config check, start). */
export function checkWarmupProviders(pools: Record<string, { warmup?: { providers?: string[] } }>, catalog: ProviderCatalog): void {
  for (const [name, pool] of Object.entries(pools)) {
    for (const id of pool.warmup?.providers ?? []) {
      if (!catalog.get(id)) throw new ConfigError(`delivery.pools.${name}.warmup.providers`, `"${id}" is not a provider id of providers.yaml (${catalog.providers.map((p) => p.id).join(', ')})`);
    }
  }
}

/** The catalogue when none is configured: every destination is `other`, shaped by these defaults. */
export function defaultProviderCatalog(): ProviderCatalog {
  return buildProviderCatalog(
    { defaults: { max_connections: 10, messages_per_connection: 100, messages_per_minute: null, tls_required: false }, providers: [] },
    '(built-in)',
  );
}
