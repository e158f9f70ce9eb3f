/**
 * Validation of the `tenants:` and `clients:` arrays of the main YAML file and of tenants/clients
 * changed at run time. Errors name the key path; `${VAR}` is substituted in every string of the
 * YAML seed (never in run-time changes, stored literally).
 */
import ipaddr from 'ipaddr.js';
import { normalizeAddress } from '../../policies/address.js';
import { normalizeDomain } from '../util/domain.js';
import type { ClientConfig, MailboxSettings, TenantConfig } from './types.js';
import { bulkPolicy, guardPolicy, levelLimits, limitSet, object, substituteDeep } from './checks.js';
import { ConfigError, Problems, absent, bool, isObj, optStr, str, strList, url } from '../../config/validate.js';

export { ConfigError };

const ID_RE = /^[a-z0-9][a-z0-9._-]{0,62}$/;
const TENANT_KEYS = ['id', 'name', 'domains', 'mailboxes', 'limits', 'newsletter_limits', 'bulk', 'guard', 'listmonk', 'dkim_required', 'newsletter_rules'];
const CLIENT_KEYS = ['name', 'password_hash', 'networks', 'tenants', 'newsletter', 'allow_null_sender', 'disabled', 'trusted'];

/** "Example.ORG" → "example.org"; "*.Example.org" → "*.example.org"; null if invalid. */
export function normalizeTenantDomain(d: string): string | null {
  if (d.startsWith('*.')) {
    const base = normalizeDomain(d.slice(2));
    return base === null ? null : `*.${base}`;
  }
  return normalizeDomain(d);
}

function mailboxes(v: unknown, path: string, p: Problems): Record<string, MailboxSettings> {
  const out: Record<string, MailboxSettings> = {};
  if (v === undefined || v === null) return out;
  if (!isObj(v)) return p.add(path, 'must be a mapping of address to settings') ?? out;
  for (const [addr, raw] of Object.entries(v)) {
    const at = `${path}["${addr}"]`;
    const key = normalizeAddress(addr);
    if (key === null) { p.add(at, 'must be an email address'); continue; }
    const o = object(raw ?? {}, at, p, ['limits', 'bulk', 'guard']);
    const m: MailboxSettings = {};
    const limits = limitSet(o?.limits, `${at}.limits`, p);
    if (limits) m.limits = limits;
    if (o?.bulk !== undefined) m.bulk = bulkPolicy(o.bulk, `${at}.bulk`, p);
    const go = object(o?.guard, `${at}.guard`, p, ['enabled']);
    const enabled = p.opt(go?.enabled, `${at}.guard.enabled`, bool);
    if (enabled !== undefined) m.guard = { enabled };
    out[key] = m;
  }
  return out;
}

function checkTenant(raw: unknown, path: string, p: Problems): TenantConfig | undefined {
  const o = object(raw, path, p, TENANT_KEYS);
  if (!o) return raw === undefined || raw === null ? p.add(path, 'must be a mapping') : undefined;
  const id = p.take(() => str(o.id, `${path}.id`));
  if (id !== undefined && !ID_RE.test(id)) p.add(`${path}.id`, 'must be lower-case letters, digits, ".", "_" or "-" (max 63)');
  const domains: string[] = [];
  const rawDomains = p.opt(o.domains, `${path}.domains`, strList);
  if (o.domains === undefined || rawDomains?.length === 0) p.add(`${path}.domains`, 'must list at least one domain');
  rawDomains?.forEach((d, i) => {
    const n = normalizeTenantDomain(d);
    if (n === null) p.add(`${path}.domains[${i}]`, `"${d}" is not a valid domain`);
    else if (domains.includes(n)) p.add(`${path}.domains[${i}]`, `"${d}" is listed twice`);
    else domains.push(n);
  });
  const t: TenantConfig = {
    id: id ?? '',
    name: p.opt(o.name, `${path}.name`, optStr) ?? id ?? '',
    domains,
    mailboxes: mailboxes(o.mailboxes, `${path}.mailboxes`, p),
    limits: levelLimits(o.limits, `${path}.limits`, p),
    newsletter_limits: levelLimits(o.newsletter_limits, `${path}.newsletter_limits`, p),
    bulk: bulkPolicy(o.bulk, `${path}.bulk`, p),
    guard: guardPolicy(o.guard, `${path}.guard`, p),
  };
  if (p.opt(o.dkim_required, `${path}.dkim_required`, bool)) t.dkim_required = true;
  const nr = object(o.newsletter_rules, `${path}.newsletter_rules`, p, ['action']);
  if (nr?.action !== undefined) {
    if (nr.action !== 'flag' && nr.action !== 'reject') p.add(`${path}.newsletter_rules.action`, 'must be "flag" or "reject"');
    else t.newsletter_rules = { action: nr.action };
  }
  const lm = object(o.listmonk, `${path}.listmonk`, p, ['url', 'public_url', 'user', 'token', 'import_recipients', 'optin_list_id']);
  if (lm) {
    t.listmonk = {
      url: p.take(() => url(lm.url, `${path}.listmonk.url`)) ?? '',
      public_url: absent(lm.public_url) ? undefined : p.take(() => url(lm.public_url, `${path}.listmonk.public_url`)),
      user: p.take(() => str(lm.user, `${path}.listmonk.user`)) ?? '',
      token: p.take(() => str(lm.token, `${path}.listmonk.token`)) ?? '',
    };
    if (!t.listmonk.public_url) delete t.listmonk.public_url;
    if (p.opt(lm.import_recipients, `${path}.listmonk.import_recipients`, bool)) t.listmonk.import_recipients = true;
    if (lm.optin_list_id !== undefined) {
      if (typeof lm.optin_list_id !== 'number' || !Number.isInteger(lm.optin_list_id) || lm.optin_list_id < 1) p.add(`${path}.listmonk.optin_list_id`, 'must be a positive integer (a Listmonk list id)');
      else t.listmonk.optin_list_id = lm.optin_list_id;
    }
  }
  return t;
}

function checkClient(raw: unknown, path: string, p: Problems, tenantIds?: Set<string>): ClientConfig | undefined {
  const o = object(raw, path, p, CLIENT_KEYS);
  if (!o) return raw === undefined || raw === null ? p.add(path, 'must be a mapping') : undefined;
  const name = p.take(() => str(o.name, `${path}.name`));
  if (name !== undefined && !ID_RE.test(name)) p.add(`${path}.name`, 'must be lower-case letters, digits, ".", "_" or "-" (max 63)');
  const hash = p.opt(o.password_hash, `${path}.password_hash`, optStr);
  if (hash !== undefined && !hash.startsWith('$')) p.add(`${path}.password_hash`, 'must be a hash such as "$scrypt$..." (never a clear-text password)');
  const networks = p.opt(o.networks, `${path}.networks`, strList);
  networks?.forEach((n, i) => {
    const ok = n.includes('/') ? ipaddr.isValidCIDR(n) : ipaddr.isValid(n);
    if (!ok) p.add(`${path}.networks[${i}]`, `"${n}" is not an IP address or CIDR network`);
  });
  if (hash === undefined && !networks?.length) p.add(path, 'needs password_hash or networks (how the client is recognised)');
  const tenants = p.opt(o.tenants, `${path}.tenants`, strList);
  if (o.tenants === undefined || tenants?.length === 0) p.add(`${path}.tenants`, 'must list tenant ids, or ["*"] for any sender');
  tenants?.forEach((t, i) => {
    if (t !== '*' && tenantIds && !tenantIds.has(t)) p.add(`${path}.tenants[${i}]`, `unknown tenant "${t}"`);
  });
  const c: ClientConfig = {
    name: name ?? '',
    tenants: tenants ?? [],
    newsletter: p.opt(o.newsletter, `${path}.newsletter`, bool) ?? false,
    allow_null_sender: p.opt(o.allow_null_sender, `${path}.allow_null_sender`, bool) ?? false,
  };
  if (hash !== undefined) c.password_hash = hash;
  if (networks) c.networks = networks;
  if (p.opt(o.disabled, `${path}.disabled`, bool)) c.disabled = true;
  if (p.opt(o.trusted, `${path}.trusted`, bool)) c.trusted = true;
  return c;
}

/** Problems of domains claimed by two tenants. */
export function domainConflicts(tenants: TenantConfig[], path = (i: number) => `tenants[${i}]`): string[] {
  const owner = new Map<string, string>();
  const out: string[] = [];
  tenants.forEach((t, i) => {
    for (const d of t.domains) {
      const prev = owner.get(d);
      if (prev !== undefined && prev !== t.id) out.push(`${path(i)}.domains: "${d}" already belongs to tenant "${prev}"`);
      else owner.set(d, t.id);
    }
  });
  return out;
}

export interface Seed {
  tenants: TenantConfig[];
  clients: ClientConfig[];
}

/** Validate the YAML seed; throws ConfigError listing every problem. */
export function validateSeed(raw: { tenants?: unknown; clients?: unknown }, env: NodeJS.ProcessEnv = process.env): Seed {
  const p = new Problems();
  const tenants: TenantConfig[] = [];
  const clients: ClientConfig[] = [];
  const rawTenants = substituteDeep(raw.tenants ?? [], 'tenants', p, env);
  const rawClients = substituteDeep(raw.clients ?? [], 'clients', p, env);
  if (!Array.isArray(rawTenants)) p.add('tenants', 'must be a list');
  else rawTenants.forEach((t, i) => {
    const v = checkTenant(t, `tenants[${i}]`, p);
    if (!v) return;
    if (tenants.some((x) => x.id === v.id)) p.add(`tenants[${i}].id`, `duplicate tenant id "${v.id}"`);
    tenants.push(v);
  });
  for (const c of domainConflicts(tenants)) p.list.push(c);
  const ids = new Set(tenants.map((t) => t.id));
  if (!Array.isArray(rawClients)) p.add('clients', 'must be a list');
  else rawClients.forEach((c, i) => {
    const v = checkClient(c, `clients[${i}]`, p, ids);
    if (!v) return;
    if (clients.some((x) => x.name === v.name)) p.add(`clients[${i}].name`, `duplicate client name "${v.name}"`);
    clients.push(v);
  });
  p.throwIfAny();
  return { tenants, clients };
}

/**
 * Validate one tenant (admin change); throws ConfigError with paths under `path`. Values from the
 * API are stored literally: `${VAR}` is expanded in the YAML file only, else a tenant named
 * `${RELAIS_DKIM_MASTER_KEY}` would hand the master key to that tenant's tokens.
 */
export function parseTenant(raw: unknown, path = 'tenant'): TenantConfig {
  const p = new Problems();
  const t = checkTenant(raw, path, p);
  p.throwIfAny();
  return t!;
}

/** Validate one client (admin change, stored literally like tenants); tenant ids checked when given. */
export function parseClient(raw: unknown, tenantIds?: Set<string>, path = 'client'): ClientConfig {
  const p = new Problems();
  const c = checkClient(raw, path, p, tenantIds);
  p.throwIfAny();
  return c!;
}
