/**
 * `relais listmonk check`: reaches a tenant's Listmonk, reads its version, tries each permission the
 * bridge needs in a harmless way (a read, or a create with an empty name that Listmonk's handler
 * refuses with 400 after its permission middleware let it through: 403 means the permission is
 * missing), and checks that bounce webhooks are on. One line per check, each failure with its fix.
 * The permissions per version are the one definition the table of docs/listmonk.md is written from.
 */
import { ListmonkClient, ListmonkError, type ClientOptions, type ListmonkConnection } from './client.js';
import { WEBHOOKS_FIX, deniedPermission, permissionFix, type Fix } from './errors.js';

export interface Permission {
  /** The name to tick in Listmonk (the first of `accepts`). */
  perm: string;
  /** Any of these satisfies the route (cmd/handlers.go lists alternatives per route). */
  accepts: string[];
  /** Only needed when the tenant imports recipients (listmonk.import_recipients). */
  importOnly?: boolean;
  /** A harmless request whose 403 means the permission is missing; none: read from the role. */
  probe?: { method: 'GET' | 'POST'; path: string; query?: Record<string, unknown>; json?: unknown; form?: boolean };
}

const SUB_QUERY = { query: "subscribers.email = 'relais-check@invalid'", per_page: 1 };

/** What the bridge needs, per Listmonk major version (cmd/handlers.go of v4.1.0, v5.1.0, v6.2.0). */
export function requiredPermissions(major: number): Permission[] {
  const v4 = major < 5;
  const perms: Permission[] = [
    // Visibility, not a 403: without it GET /api/lists shows nothing (cmd/lists.go).
    { perm: 'lists:get_all', accepts: ['lists:get_all'] },
    { perm: 'lists:manage_all', accepts: ['lists:manage_all'], probe: { method: 'POST', path: '/api/lists', json: { name: '' } } },
    v4
      ? { perm: 'campaigns:get', accepts: ['campaigns:get'], probe: { method: 'GET', path: '/api/campaigns', query: { tag: ['relais-check'], per_page: 1, no_body: true } } }
      : { perm: 'campaigns:get_all', accepts: ['campaigns:get_all', 'campaigns:get'], probe: { method: 'GET', path: '/api/campaigns', query: { tag: ['relais-check'], per_page: 1, no_body: true } } },
    v4
      ? { perm: 'campaigns:manage', accepts: ['campaigns:manage'], probe: { method: 'POST', path: '/api/campaigns', json: { name: '' } } }
      : { perm: 'campaigns:manage_all', accepts: ['campaigns:manage_all', 'campaigns:manage'], probe: { method: 'POST', path: '/api/campaigns', json: { name: '' } } },
    { perm: 'media:get', accepts: ['media:get'], probe: { method: 'GET', path: '/api/media', query: { query: 'relais-check', per_page: 1 } } },
    { perm: 'media:manage', accepts: ['media:manage'], probe: { method: 'POST', path: '/api/media', form: true } },
    { perm: 'webhooks:post_bounce', accepts: ['webhooks:post_bounce'] }, // probed with the webhook check below
    { perm: v4 ? 'subscribers:get' : 'subscribers:get_all', accepts: ['subscribers:get_all', 'subscribers:get'], importOnly: true, probe: { method: 'GET', path: '/api/subscribers', query: { per_page: 1 } } },
    { perm: 'subscribers:manage', accepts: ['subscribers:manage'], importOnly: true, probe: { method: 'POST', path: '/api/subscribers', json: { email: '' } } },
  ];
  // From v5 a `query=` look-up needs its own permission (cmd/subscribers.go QuerySubscribers).
  if (!v4) perms.push({ perm: 'subscribers:sql_query', accepts: ['subscribers:sql_query'], importOnly: true, probe: { method: 'GET', path: '/api/subscribers', query: SUB_QUERY } });
  return perms;
}

export interface CheckLine {
  check: string;
  status: 'pass' | 'fail';
  detail: string;
  fix?: Fix;
}

export interface CheckResult {
  url: string;
  version?: string;
  lines: CheckLine[];
}

const pass = (check: string, detail: string): CheckLine => ({ check, status: 'pass', detail });
const fail = (check: string, detail: string, fix: Fix): CheckLine => ({ check, status: 'fail', detail, fix });

const REACH_FIX: Fix = {
  fr: "vérifiez listmonk.url du tenant (adresse de l'API vue depuis Relais, sans /api) et que Listmonk tourne.",
  en: "check the tenant's listmonk.url (the API address as seen from Relais, without /api) and that Listmonk is running.",
};
const TOKEN_FIX: Fix = {
  fr: "créez dans Listmonk (Utilisateurs → Nouveau, type API) l'utilisateur listmonk.user et mettez son jeton dans listmonk.token.",
  en: 'create the listmonk.user API user in Listmonk (Users → New, type API) and put its token in listmonk.token.',
};

/** "v6.2.0" → 6; 0 when unreadable. */
export function majorVersion(version: string | undefined): number {
  return Number(/^v?(\d+)\./.exec(version ?? '')?.[1] ?? 0);
}

/** The status a call got, and the permission a 403 names. */
async function attempt(call: () => Promise<unknown>): Promise<{ st: number | 'network'; denied?: string | null }> {
  try {
    await call();
    return { st: 200 };
  } catch (err) {
    if (err instanceof ListmonkError) return { st: err.status ?? 'network', denied: err.status === 403 ? deniedPermission(err) : undefined };
    throw err;
  }
}

export async function checkListmonk(conn: ListmonkConnection & { import_recipients?: boolean }, opts: ClientOptions = {}): Promise<CheckResult> {
  const client = new ListmonkClient(conn, { timeoutMs: 5_000, ...opts, retries: 0 });
  const out: CheckResult = { url: client.instance, lines: [] };
  try {
    await client.health();
    out.lines.push(pass('reach', `${client.instance} répond, utilisateur API ${conn.user} accepté / answers, API user ${conn.user} accepted`));
  } catch (err) {
    const e = err as ListmonkError;
    out.lines.push(fail('reach', e.message, e.status === 403 || e.status === 401 ? TOKEN_FIX : REACH_FIX));
    return out;
  }
  const config = await client.serverConfig().catch(() => null);
  out.version = config?.version;
  const major = majorVersion(config?.version);
  if (major < 4) {
    out.lines.push(fail('version', `Listmonk ${config?.version ?? '(version illisible / unreadable)'} : Relais demande la v4 ou plus récente (utilisateurs API et rôles) / Relais needs v4 or later (API users and roles)`, { fr: 'mettez Listmonk à jour (v4.1 ou plus récent).', en: 'upgrade Listmonk (v4.1 or later).' }));
    return out;
  }
  out.lines.push(pass('version', `Listmonk ${config!.version}${major > 6 ? ' (vérifié avec les règles de la v6 / checked with the v6 rules)' : ''}`));

  const profile = await client.profile().catch(() => null);
  const role = profile?.user_role;
  const superAdmin = role?.id === 1;
  const granted = new Set(role?.permissions ?? []);
  const fromRole = (p: Permission) => superAdmin || p.accepts.some((a) => granted.has(a));

  // The webhook route exists only when webhooks are on; then the permission, then bounce processing.
  const hook = (await attempt(() => client.request('POST', '/webhooks/bounce', { body: { json: { type: 'hard', source: 'relais-check' } }, retries: 0 }))).st;

  for (const p of requiredPermissions(major)) {
    if (p.importOnly && !conn.import_recipients) continue;
    let ok: boolean;
    let how: string;
    if (p.perm === 'webhooks:post_bounce' && hook !== 404 && hook !== 'network') {
      ok = hook !== 403;
      how = 'POST /webhooks/bounce';
    } else if (p.probe) {
      const pr = p.probe;
      const body = pr.json !== undefined ? { json: pr.json } : pr.form ? { form: () => new FormData() } : undefined;
      const r = await attempt(() => client.request(pr.method, pr.path, { query: pr.query, body, retries: 0 }));
      // A 403 naming another permission of the same route (sql_query behind subscribers:get) says
      // nothing about this one: the role tells.
      const other = r.st === 403 && r.denied && !p.accepts.includes(r.denied);
      ok = other ? fromRole(p) : r.st !== 403;
      how = other ? `rôle / role ${role?.name ?? '?'}` : `${pr.method} ${pr.path}`;
    } else {
      ok = fromRole(p);
      how = `rôle / role ${superAdmin ? 'Super Admin' : (role?.name ?? '?')}`;
    }
    out.lines.push(ok ? pass(p.perm, `${p.perm} accordée / granted (${how})`) : fail(p.perm, `${p.perm} manquante / missing (${how})`, permissionFix(p.perm)));
  }

  if (hook === 404) out.lines.push(fail('bounce-webhooks', "POST /webhooks/bounce n'existe pas : webhooks de rebond désactivés / does not exist: bounce webhooks are off", WEBHOOKS_FIX));
  else if (hook === 503) out.lines.push(fail('bounce-webhooks', 'webhooks de rebond actifs mais traitement des rebonds désactivé / bounce webhooks on but bounce processing off (503)', WEBHOOKS_FIX));
  else if (hook === 'network' || (typeof hook === 'number' && hook >= 500)) out.lines.push(fail('bounce-webhooks', `POST /webhooks/bounce: ${hook}`, REACH_FIX));
  else out.lines.push(pass('bounce-webhooks', 'webhooks de rebond actifs / bounce webhooks are on'));
  return out;
}
