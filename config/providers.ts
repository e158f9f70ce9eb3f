/**
 * Destination providers (config/providers.yaml): who operates the recipient's mailbox, the
 * delivery shaping preset for it, and throttle rules (replies that mean "slow down").
 * Matching is by MX host first (a custom domain hosted at Google is Google), then by the
 * well-known recipient domain; everything else is `other`.
 */
import { bool, duration, fail, inFile, list, mapping, num, oneOf, onlyKeys, optStr, posInt, regex, str, type Obj } from './validate.js';
import { loadDataFile } from './data-file.js';

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

export interface ThrottleRule {
  /** Absent: applies to every provider. */
  provider?: string;
  match: { code?: number; enhanced?: RegExp; text?: RegExp };
  action: { messagesPerMinute?: number; maxConnections?: number; factor?: number };
  durationMs: number;
}

export interface SmtpReplyLike {
  code?: number;
  enhanced?: string;
  text?: string;
}

export interface ProviderCatalog {
  readonly providers: readonly ProviderInfo[];
  readonly throttleRules: readonly ThrottleRule[];
  /** Ids of providers flagged us_giant. */
  readonly usGiants: readonly string[];
  get(id: string): ProviderInfo | undefined;
  providerForMx(mxHost: string): ProviderInfo;
  providerForDomain(domain: string, mxHost?: string): ProviderInfo;
  /** First throttle rule matching a reply from this provider, if any. */
  throttleFor(providerId: string, reply: SmtpReplyLike): ThrottleRule | undefined;
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

function parseThrottleRule(raw: unknown, key: string, known: Set<string>): ThrottleRule {
  const o = mapping(raw, key);
  onlyKeys(o, key, ['provider', 'match', 'action', 'duration']);
  const provider = optStr(o.provider, `${key}.provider`);
  if (provider !== undefined && !known.has(provider)) fail(`${key}.provider`, `names unknown provider "${provider}"`);
  const m = mapping(o.match, `${key}.match`);
  onlyKeys(m, `${key}.match`, ['code', 'enhanced', 'text']);
  const match: ThrottleRule['match'] = {};
  if (m.code !== undefined) match.code = num(m.code, `${key}.match.code`, 200, 599);
  if (m.enhanced !== undefined) match.enhanced = regex(m.enhanced, `${key}.match.enhanced`);
  if (m.text !== undefined) match.text = regex(m.text, `${key}.match.text`);
  if (Object.keys(match).length === 0) fail(`${key}.match`, 'needs at least one of code, enhanced, text');
  const a = mapping(o.action, `${key}.action`);
  onlyKeys(a, `${key}.action`, ['messages_per_minute', 'max_connections', 'factor']);
  const action: ThrottleRule['action'] = {};
  if (a.messages_per_minute !== undefined) action.messagesPerMinute = posInt(a.messages_per_minute, `${key}.action.messages_per_minute`);
  if (a.max_connections !== undefined) action.maxConnections = posInt(a.max_connections, `${key}.action.max_connections`);
  if (a.factor !== undefined) action.factor = num(a.factor, `${key}.action.factor`, 0.01, 1);
  if (Object.keys(action).length === 0) fail(`${key}.action`, 'needs messages_per_minute, max_connections or factor');
  const durationMs = duration(o.duration, `${key}.duration`);
  return { ...(provider ? { provider } : {}), match, action, durationMs };
}

export function ruleMatchesReply(rule: ThrottleRule, reply: SmtpReplyLike): boolean {
  const { code, enhanced, text } = rule.match;
  if (code !== undefined && reply.code !== code) return false;
  if (enhanced && !enhanced.test(reply.enhanced ?? '')) return false;
  if (text && !text.test(reply.text ?? '')) return false;
  return true;
}

/** Build a catalog from parsed YAML (an object); `source` names the file in errors. */
export function buildProviderCatalog(doc: unknown, source = 'providers.yaml'): ProviderCatalog {
  return inFile(source, () => catalogOf(doc));
}

function catalogOf(doc: unknown): ProviderCatalog {
  const root: Obj = mapping(doc, '(root)');
  onlyKeys(root, '', ['defaults', 'providers', 'throttle_rules']);
  const defaults = parseShaping(root.defaults, 'defaults', null);

  const providers: ProviderInfo[] = [];
  const byId = new Map<string, ProviderInfo>();
  const mxPatterns: MxPattern[] = [];
  const byDomain = new Map<string, ProviderInfo>();
  list(root.providers, 'providers').forEach((raw, i) => {
    const key = `providers[${i}]`;
    const o = mapping(raw, key);
    onlyKeys(o, key, ['id', 'name', 'us_giant', 'mx', 'domains', 'shaping']);
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

  const known = new Set(byId.keys());
  const throttleRules = (root.throttle_rules === undefined ? [] : list(root.throttle_rules, 'throttle_rules')).map((r, i) =>
    parseThrottleRule(r, `throttle_rules[${i}]`, known),
  );

  const providerForMx = (mxHost: string): ProviderInfo => {
    const h = normHost(mxHost);
    for (const p of mxPatterns) if (p.re.test(h)) return p.provider;
    return other;
  };

  return {
    providers,
    throttleRules,
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
    throttleFor(providerId, reply) {
      return throttleRules.find((r) => (r.provider === undefined || r.provider === providerId) && ruleMatchesReply(r, reply));
    },
  };
}

/** Read and validate a providers file (defaults to config/providers.yaml of the repo). */
export function loadProviders(path?: string): ProviderCatalog {
  return loadDataFile('providers.yaml', buildProviderCatalog, path);
}

/** The catalogue when none is configured: every destination is `other`, shaped by these defaults. */
export function defaultProviderCatalog(): ProviderCatalog {
  return buildProviderCatalog(
    { defaults: { max_connections: 10, messages_per_connection: 100, messages_per_minute: null, tls_required: false }, providers: [] },
    '(built-in)',
  );
}
