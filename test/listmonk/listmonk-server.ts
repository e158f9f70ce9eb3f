/**
 * A Listmonk stand-in for tests that behaves like the real server, version by version (v4.1, v5.1,
 * v6.2), where the bridge depends on it. Every request is also checked against the schemas in
 * test/fixtures/listmonk/listmonk-api.json (Listmonk v6.2.0's OpenAPI file with the corrections the
 * Go source imposes): a request off them gets 400 and is recorded in `violations`, and so is a reply
 * of ours that breaks them. Failure injection: down (connection refused), close (socket destroyed),
 * drop-reply (handled, reply lost), 500, slow.
 *
 * Where each behaviour comes from (knadh/listmonk, tags v4.1.0, v5.1.0, v6.2.0):
 *  - Auth `Authorization: token user:token` or Basic; 403 "invalid API credentials", "unknown
 *    Authorization scheme", "api_key:token missing" — internal/auth/auth.go (all three).
 *  - Route permissions and the text `permission denied: <perm>` (403, naming the last permission the
 *    route accepts) — cmd/handlers.go route table + internal/auth/auth.go Perm (all three). The role
 *    has `permissions`; `null` stands for the Super Admin role (id 1), which skips every check.
 *    v4.1: campaigns:get / campaigns:manage; v5.1+: campaigns:get_all|campaigns:get and
 *    campaigns:manage_all|campaigns:manage (cmd/handlers.go).
 *  - GET /api/lists needs no permission but shows only the lists the user may get: all of them with
 *    lists:get_all (lists:manage_all does not count), none otherwise (per-list roles are not modelled);
 *    `minimal=true` with nothing to show answers {"data": []}, a bare array — cmd/lists.go
 *    handleGetLists (v4.1) / GetLists (v5.1, v6.2), internal/auth/models.go GetPermittedLists.
 *    The filter parameter is `tag` (c.QueryParams()["tag"]).
 *  - GET /api/lists/{id} without lists:get_all: v4.1 400 "Permission denied: list" (cmd/lists.go
 *    listPerm); v5.1+ 403 "permission denied" (internal/auth/models.go HasListPerm).
 *  - POST /api/lists needs lists:manage_all; name 1..200 chars else 400; names are not unique —
 *    cmd/lists.go, schema.sql.
 *  - GET /api/campaigns reads `tag` (repeatable; all must match), not `tags`; v5.1+ with campaigns:get
 *    but not campaigns:get_all shows campaigns only when the user may see all lists — cmd/campaigns.go
 *    GetCampaigns, internal/auth/models.go GetPermittedLists. New campaigns are `draft` — schema.sql.
 *    v6.2's POST first drops the lists the user may neither get nor manage, then refuses a campaign
 *    left without lists (400) — cmd/campaigns.go CreateCampaign (FilterListsByPerm).
 *  - GET /api/subscribers needs subscribers:get_all|subscribers:get; from v5.1 a `query` also needs
 *    subscribers:sql_query (403 "Permission denied: subscribers:sql_query") — cmd/subscribers.go.
 *  - POST /api/subscribers needs subscribers:manage; 409 "E-mail already exists."; subscriptions are
 *    `confirmed` with preconfirm_subscriptions, else `unconfirmed`; when not preconfirmed and
 *    app.send_optin_confirmation is on (default), an opt-in mail goes to the subscriber for each
 *    unconfirmed double opt-in list (recorded in `optinMails`) — internal/core/subscribers.go
 *    InsertSubscriber, cmd/subscribers.go sendOptinConfirmationHook / makeOptinNotifyHook.
 *  - PUT /api/subscribers/lists (action add) needs subscribers:manage, sends no opt-in mail, and on an
 *    existing subscription overwrites its status — internal/core/subscriptions.go AddSubscriptions,
 *    queries add-subscribers-to-lists.
 *  - POST /api/media needs media:manage; v4.1 refuses a non-ASCII file name with 422 "Invalid filename
 *    <name>. Use only ASCII characters"; extension not allowed → 400; v4.1 always appends a random
 *    `_xxxxxx` suffix, v5.1+ only when the name is taken — cmd/media.go. GET /api/media needs
 *    media:get; `query` is a case-insensitive substring of the file name — queries media.sql.
 *  - POST /webhooks/bounce exists only when bounce webhooks are on (else echo's 404 {"message":
 *    "Not Found"}); needs webhooks:post_bounce; 503 when bounce processing is off; 400 without email
 *    and subscriber_uuid, on a subscriber_uuid that is not a UUID, or on a bad type — cmd/handlers.go,
 *    cmd/bounce.go validateBounceFields.
 *  - GET /api/config (no permission) gives `version`; GET /api/profile gives the user and
 *    user_role {id, name, permissions} — cmd/admin.go, cmd/users.go.
 *  - Errors are {"message": "…"} (echo's HTTPError rendering, cmd/handlers.go / init.go).
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { randomBytes, randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { AddressInfo, Socket } from 'node:net';
import AjvModule, { type Options as AjvOptions, type ValidateFunction } from 'ajv';
import { parseMultipart } from './multipart.js';

// ajv is CommonJS: depending on the loader the class is the module or its `default`.
type AjvInstance = { compile(schema: object): ValidateFunction };
const Ajv = ((AjvModule as unknown as { default?: unknown }).default ?? AjvModule) as unknown as new (o: AjvOptions) => AjvInstance;
type Validate = ((data: unknown) => boolean) & { errors?: Array<{ instancePath: string; message?: string }> | null };

const SPEC = JSON.parse(readFileSync(new URL('../fixtures/listmonk/listmonk-api.json', import.meta.url), 'utf8'));

interface Operation {
  key: string;
  method: string;
  re: RegExp;
  pathNames: string[];
  query: Validate;
  path: Validate;
  body?: { contentType: string; validate: Validate };
  response?: Validate;
}

const strictAjv = new Ajv({ strict: false, allErrors: true, validateFormats: false });
const coerceAjv = new Ajv({ strict: false, allErrors: true, validateFormats: false, coerceTypes: 'array' });

const OPERATIONS: Operation[] = Object.entries(SPEC.operations as Record<string, any>).map(([key, op]) => {
  const [method, path] = key.split(' ');
  const pathNames: string[] = [];
  const re = new RegExp('^' + path.replace(/\{(\w+)\}/g, (_, n) => (pathNames.push(n), '([^/]+)')) + '$');
  return {
    key, method, re, pathNames,
    query: coerceAjv.compile(op.query) as Validate,
    path: coerceAjv.compile(op.path) as Validate,
    body: op.requestBody ? { contentType: op.requestBody.contentType, validate: strictAjv.compile(op.requestBody.schema) as Validate } : undefined,
    response: op.response200 ? (strictAjv.compile(op.response200) as Validate) : undefined,
  };
});

export type ListmonkVersion = 'v4.1' | 'v5.1' | 'v6.2';

/** Permissions each route accepts (any of them), per version (cmd/handlers.go). */
function routePerms(key: string, v: ListmonkVersion): string[] {
  const v4 = v === 'v4.1';
  switch (key) {
    case 'GET /api/subscribers': return ['subscribers:get_all', 'subscribers:get'];
    case 'POST /api/subscribers': case 'PUT /api/subscribers/lists': return ['subscribers:manage'];
    case 'POST /api/lists': return ['lists:manage_all'];
    case 'GET /api/campaigns': case 'GET /api/campaigns/{id}': return v4 ? ['campaigns:get'] : ['campaigns:get_all', 'campaigns:get'];
    case 'POST /api/campaigns': return v4 ? ['campaigns:manage'] : ['campaigns:manage_all', 'campaigns:manage'];
    case 'GET /api/media': return ['media:get'];
    case 'POST /api/media': return ['media:manage'];
    case 'POST /webhooks/bounce': return ['webhooks:post_bounce'];
  }
  return [];
}

const UUID_RE = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;

export interface RecordedRequest {
  call: string;
  method: string;
  path: string;
  query: Record<string, unknown>;
  headers: IncomingMessage['headers'];
  body: any;
  status?: number;
  dropReply?: boolean;
}

export interface Violation {
  call: string;
  kind: 'route' | 'auth' | 'query' | 'path' | 'body' | 'response';
  reason: string;
}

/** down: connection refused; close: socket destroyed before handling; drop-reply: request handled
 * (side effects happen) but the socket is destroyed instead of replying; 500; slow. */
export type FailMode = { mode: 'down' } | { mode: 'close' | '500' | 'drop-reply'; times?: number; match?: string } | { mode: 'slow'; delayMs: number; match?: string };

export interface FakeListmonkOptions {
  user?: string;
  token?: string;
  /** Listmonk release to behave like (default v6.2). */
  version?: ListmonkVersion;
  /** The API user's role permissions; null (default) is the Super Admin role. */
  permissions?: string[] | null;
  /** Media extensions accepted (Settings → Media → upload extensions). */
  mediaExtensions?: string[];
  /** bounce.webhooks_enabled: the /webhooks/bounce route exists (default true). */
  bounceWebhooks?: boolean;
  /** bounce.enabled: bounce processing (default true); off with webhooks on gives 503. */
  bounceEnabled?: boolean;
  /** app.send_optin_confirmation (default true, as in schema.sql). */
  sendOptinConfirmation?: boolean;
}

const errs = (v: Validate) => (v.errors ?? []).map((e) => `${e.instancePath || '/'} ${e.message}`).join('; ');
const now = () => new Date().toISOString();
const isAscii = (s: string) => /^[\x00-\x7f]*$/.test(s);

export class FakeListmonk {
  readonly user: string;
  readonly token: string;
  readonly version: ListmonkVersion;
  requests: RecordedRequest[] = [];
  violations: Violation[] = [];
  lists: any[] = [];
  subscribers: any[] = [];
  /** subscriber_lists rows */
  subscriptions: Array<{ subscriber_id: number; list_id: number; status: string }> = [];
  campaigns: any[] = [];
  media: any[] = [];
  bounces: any[] = [];
  /** Opt-in confirmation mails Listmonk would have sent: who, for which lists. */
  optinMails: Array<{ email: string; lists: number[] }> = [];
  port = 0;
  permissions: string[] | null;
  private server: Server;
  private sockets = new Set<Socket>();
  private failure: (FailMode & { left?: number }) | null = null;
  private ids = { list: 0, subscriber: 0, campaign: 0, media: 0 };
  private opts: Required<Omit<FakeListmonkOptions, 'permissions'>>;

  constructor(opts: FakeListmonkOptions = {}) {
    this.opts = {
      user: opts.user ?? 'relais',
      token: opts.token ?? 'tok-' + randomUUID(),
      version: opts.version ?? 'v6.2',
      mediaExtensions: opts.mediaExtensions ?? ['jpg', 'jpeg', 'png', 'gif', 'svg', 'pdf'],
      bounceWebhooks: opts.bounceWebhooks ?? true,
      bounceEnabled: opts.bounceEnabled ?? true,
      sendOptinConfirmation: opts.sendOptinConfirmation ?? true,
    };
    this.permissions = opts.permissions ?? null;
    this.user = this.opts.user;
    this.token = this.opts.token;
    this.version = this.opts.version;
    this.server = this.makeServer();
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** Changes the API user's role (null: Super Admin), as an admin would in Users → User roles. */
  setPermissions(perms: string[] | null): void {
    this.permissions = perms;
  }

  /** Settings → Bounces (Listmonk reloads itself when they are saved). */
  setBounceSettings(s: { enabled?: boolean; webhooks?: boolean }): void {
    if (s.enabled !== undefined) this.opts.bounceEnabled = s.enabled;
    if (s.webhooks !== undefined) this.opts.bounceWebhooks = s.webhooks;
  }

  private has(perm: string): boolean {
    return this.permissions === null || this.permissions.includes(perm);
  }

  private makeServer(): Server {
    const s = createServer((req, res) => void this.handle(req, res));
    s.on('connection', (sock) => {
      this.sockets.add(sock);
      sock.on('close', () => this.sockets.delete(sock));
    });
    return s;
  }

  async start(port = 0): Promise<this> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, '127.0.0.1', () => resolve());
    });
    this.port = (this.server.address() as AddressInfo).port;
    return this;
  }

  /** Inject a failure; `times` counts requests (default: until cleared). */
  async fail(f: FailMode): Promise<void> {
    this.failure = { ...f, left: 'times' in f ? f.times : undefined };
    if (f.mode === 'down') await this.stopListening();
  }

  async recover(): Promise<void> {
    const wasDown = this.failure?.mode === 'down';
    this.failure = null;
    if (wasDown) {
      this.server = this.makeServer();
      await this.start(this.port);
    }
  }

  private async stopListening(): Promise<void> {
    const s = this.server;
    await new Promise<void>((r) => {
      s.close(() => r());
      for (const sock of this.sockets) sock.destroy();
    });
  }

  async close(): Promise<void> {
    if (this.server.listening) await this.stopListening();
  }

  calls(call: string): RecordedRequest[] {
    return this.requests.filter((r) => r.call === call);
  }

  private violation(res: ServerResponse, rec: RecordedRequest, kind: Violation['kind'], reason: string): void {
    this.violations.push({ call: rec.call, kind, reason });
    this.reply(res, rec, 400, { message: `spec violation (${kind}): ${reason}` });
  }

  private reply(res: ServerResponse, rec: RecordedRequest, status: number, body: unknown): void {
    rec.status = status;
    if (rec.dropReply) return void res.socket?.destroy();
    res.writeHead(status, { 'Content-Type': 'application/json; charset=utf-8' });
    res.end(JSON.stringify(body));
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const raw = Buffer.concat(chunks);
    const u = new URL(req.url ?? '/', 'http://x');
    const method = req.method ?? 'GET';
    let op = OPERATIONS.find((o) => o.method === method && o.re.test(u.pathname));
    // The webhook route is registered only when bounce webhooks are on (cmd/handlers.go).
    if (op?.key === 'POST /webhooks/bounce' && !this.opts.bounceWebhooks) op = undefined;
    const rec: RecordedRequest = { call: op?.key ?? `${method} ${u.pathname}`, method, path: u.pathname, query: {}, headers: req.headers, body: undefined };
    this.requests.push(rec);

    const f = this.failure;
    if (f && f.mode !== 'down' && (!('match' in f) || !f.match || f.match === rec.call)) {
      if (f.left !== undefined && f.left-- <= 0) this.failure = null;
      else if (f.mode === 'close') return void req.socket.destroy();
      else if (f.mode === 'drop-reply') rec.dropReply = true;
      else if (f.mode === '500') return this.reply(res, rec, 500, { message: 'injected failure' });
      else if (f.mode === 'slow') await new Promise((r) => setTimeout(r, f.delayMs));
    }

    if (u.pathname === '/webhooks/bounce' && !op) return this.reply(res, rec, 404, { message: 'Not Found' });
    if (!op) return this.violation(res, rec, 'route', `no such operation in the spec: ${method} ${u.pathname}`);
    if (String(req.headers.cookie ?? '').includes('session=')) return this.violation(res, rec, 'auth', 'session cookie sent (listmonk would ignore the Authorization header)');
    const auth = String(req.headers.authorization ?? '');
    let creds: string | undefined;
    if (/^token /i.test(auth)) creds = auth.slice(6);
    else if (/^basic /i.test(auth)) creds = Buffer.from(auth.slice(6), 'base64').toString('utf8');
    else return this.reply(res, rec, 403, { message: 'unknown Authorization scheme' });
    if (!creds.includes(':')) return this.reply(res, rec, 403, { message: 'api_key:token missing' });
    if (creds !== `${this.user}:${this.token}`) return this.reply(res, rec, 403, { message: 'invalid API credentials' });

    // Perm middleware runs before the handler: it names the last permission it tried (auth.go Perm).
    const perms = routePerms(op.key, this.version);
    if (perms.length && !perms.some((p) => this.has(p))) return this.reply(res, rec, 403, { message: `permission denied: ${perms.at(-1)}` });

    const query: Record<string, unknown> = {};
    for (const k of new Set(u.searchParams.keys())) {
      const all = u.searchParams.getAll(k);
      query[k] = all.length > 1 ? all : all[0];
    }
    rec.query = query;
    if (!op.query(query)) return this.violation(res, rec, 'query', errs(op.query));
    const m = op.re.exec(u.pathname)!;
    const params: Record<string, unknown> = Object.fromEntries(op.pathNames.map((n, i) => [n, m[i + 1]]));
    if (!op.path(params)) return this.violation(res, rec, 'path', errs(op.path));

    if (op.body) {
      const ct = String(req.headers['content-type'] ?? '');
      if (op.body.contentType === 'application/json') {
        if (!ct.startsWith('application/json')) return this.violation(res, rec, 'body', `content-type ${ct}`);
        try {
          rec.body = JSON.parse(raw.toString('utf8'));
        } catch {
          return this.violation(res, rec, 'body', 'invalid JSON');
        }
        // The handler's own checks answer first (a Listmonk 400, not a mistake of the caller's shape).
        const refused = this.validate(op.key, rec.body);
        if (refused) return this.reply(res, rec, refused[0], { message: refused[1] });
        if (!op.body.validate(rec.body)) return this.violation(res, rec, 'body', errs(op.body.validate));
      } else {
        const parts = parseMultipart(raw, ct);
        if (typeof parts === 'string') return this.violation(res, rec, 'body', parts);
        rec.body = parts.map((p) => ({ name: p.name, filename: p.filename, contentType: p.contentType, size: p.data.length, data: p.data }));
        if (!parts.some((p) => p.name === 'file' && p.filename !== undefined)) return this.reply(res, rec, 400, { message: 'Invalid file: http: no such file' });
      }
    } else if (raw.length) {
      return this.violation(res, rec, 'body', 'unexpected request body');
    }

    const [status, data] = this.route(op.key, params, query, rec.body);
    if (status === 200) {
      const payload = { data };
      if (op.response && !op.response(payload)) this.violations.push({ call: rec.call, kind: 'response', reason: errs(op.response) });
      return this.reply(res, rec, 200, payload);
    }
    return this.reply(res, rec, status, { message: data });
  }

  /** The handlers' own validation (Listmonk's 400s). */
  private validate(key: string, b: any): [number, string] | null {
    if (!b || typeof b !== 'object') return [400, 'Invalid data'];
    switch (key) {
      case 'POST /api/lists':
        return typeof b.name === 'string' && b.name.length >= 1 && b.name.length <= 200 ? null : [400, 'Invalid name.'];
      case 'POST /api/campaigns':
        if (typeof b.name !== 'string' || !b.name) return [400, 'Invalid campaign name.'];
        if (typeof b.subject !== 'string' || !b.subject) return [400, 'Invalid subject.'];
        return Array.isArray(b.lists) && b.lists.length ? null : [400, 'Invalid lists.'];
      case 'POST /api/subscribers':
        return typeof b.email === 'string' && /^[^@\s]+@[^@\s]+\.[^@\s]+$/.test(b.email) ? null : [400, 'Invalid email.'];
      case 'POST /webhooks/bounce':
        if (!this.opts.bounceEnabled) return [503, 'Internal error.'];
        if (!b.email && !b.subscriber_uuid) return [400, 'Invalid fields: email / subscriber_uuid'];
        if (b.subscriber_uuid && !UUID_RE.test(b.subscriber_uuid)) return [400, 'Invalid fields: subscriber_uuid'];
        return ['hard', 'soft', 'complaint'].includes(b.type) ? null : [400, 'Invalid fields: type'];
    }
    return null;
  }

  private listView(l: any) {
    return { ...l, subscriber_count: this.subscriptions.filter((s) => s.list_id === l.id).length };
  }

  private subscriberView(s: any) {
    const lists = this.subscriptions.filter((x) => x.subscriber_id === s.id).map((x) => {
      const l = this.lists.find((y) => y.id === x.list_id);
      return { id: l.id, uuid: l.uuid, name: l.name, type: l.type, optin: l.optin, subscription_status: x.status, tags: l.tags, created_at: l.created_at, updated_at: l.updated_at };
    });
    return { ...s, lists };
  }

  /** What Listmonk's opt-in hook mails: the unconfirmed double opt-in lists among `listIds`. */
  private optinHook(subscriberId: number, email: string, listIds: number[]): void {
    if (!this.opts.sendOptinConfirmation) return;
    const lists = listIds.filter((id) => this.lists.find((l) => l.id === id)?.optin === 'double' && this.subscriptions.some((x) => x.subscriber_id === subscriberId && x.list_id === id && x.status === 'unconfirmed'));
    if (lists.length) this.optinMails.push({ email, lists });
  }

  private route(key: string, p: Record<string, any>, q: Record<string, any>, body: any): [number, any] {
    const page = <T>(results: T[]) => ({ results, total: results.length, per_page: results.length, page: 1 });
    const v4 = this.version === 'v4.1';
    const seeAllLists = this.has('lists:get_all');
    switch (key) {
      case 'GET /api/health':
        return [200, true];
      case 'GET /api/config':
        return [200, { version: `${this.version}.0`, root_url: this.url, from_email: 'listmonk <noreply@listmonk.yoursite.com>', messengers: ['email'], langs: [], lang: 'en', needs_restart: false, has_legacy_user: false }];
      case 'GET /api/profile':
        return [200, { id: 2, username: this.user, name: this.user, type: 'api', status: 'enabled', user_role: this.permissions === null ? { id: 1, name: 'Super Admin', permissions: [] } : { id: 3, name: 'relais', permissions: this.permissions } }];
      case 'GET /api/lists': {
        let ls = seeAllLists ? this.lists : [];
        const tags: string[] = q.tag === undefined ? [] : [q.tag].flat().map(String);
        ls = ls.filter((l) => tags.every((t) => l.tags.includes(t)));
        if (q.minimal === 'true' || q.minimal === true) return [200, ls.length ? page(ls.map((l) => this.listView(l))) : []];
        if (q.query) ls = ls.filter((l) => l.name.toLowerCase().includes(String(q.query).toLowerCase()));
        return [200, { ...page(ls.map((l) => this.listView(l))), query: q.query ?? '' }];
      }
      case 'GET /api/lists/{list_id}': {
        if (!seeAllLists) return v4 ? [400, 'Permission denied: list'] : [403, 'permission denied'];
        const l = this.lists.find((x) => x.id === p.list_id);
        return l ? [200, this.listView(l)] : [404, 'List not found.'];
      }
      case 'POST /api/lists': {
        const l = { id: ++this.ids.list, uuid: randomUUID(), name: body.name, type: body.type ?? 'private', optin: body.optin ?? 'single', status: body.status ?? 'active', tags: body.tags ?? [], description: body.description ?? '', created_at: now(), updated_at: now() };
        this.lists.push(l);
        return [200, this.listView(l)];
      }
      case 'GET /api/subscribers': {
        if (q.query && !v4 && !this.has('subscribers:sql_query')) return [403, 'Permission denied: subscribers:sql_query'];
        const m = /^subscribers\.email\s*=\s*'((?:[^']|'')*)'$/.exec(String(q.query ?? '').trim());
        if (q.query && !m) return [400, 'unsupported query in the stand-in'];
        const subs = m ? this.subscribers.filter((s) => s.email === m[1].replace(/''/g, "'")) : this.subscribers;
        return [200, { ...page(subs.map((s) => this.subscriberView(s))), query: q.query ?? '' }];
      }
      case 'POST /api/subscribers': {
        const email = String(body.email).toLowerCase();
        if (this.subscribers.some((s) => s.email === email)) return [409, 'E-mail already exists.'];
        const listIds: number[] = (body.lists ?? []).filter((id: number) => this.lists.some((l) => l.id === id));
        const s = { id: ++this.ids.subscriber, uuid: randomUUID(), email, name: body.name || email.split('@')[0], status: body.status ?? 'enabled', attribs: body.attribs ?? {}, created_at: now(), updated_at: now() };
        this.subscribers.push(s);
        for (const id of listIds) this.subscriptions.push({ subscriber_id: s.id, list_id: id, status: body.preconfirm_subscriptions ? 'confirmed' : 'unconfirmed' });
        if (!body.preconfirm_subscriptions) this.optinHook(s.id, email, listIds);
        return [200, this.subscriberView(s)];
      }
      case 'PUT /api/subscribers/lists': {
        if (body.action !== 'add') return [400, 'only add is implemented in the stand-in'];
        for (const sid of body.ids ?? []) for (const lid of body.target_list_ids) {
          const row = this.subscriptions.find((x) => x.subscriber_id === sid && x.list_id === lid);
          if (row) row.status = body.status || row.status;
          else this.subscriptions.push({ subscriber_id: sid, list_id: lid, status: body.status || 'unconfirmed' });
        }
        return [200, true];
      }
      case 'GET /api/campaigns': {
        const tags: string[] = q.tag === undefined ? [] : [q.tag].flat().map(String);
        const visible = this.has('campaigns:get_all') || v4 || this.has('lists:get_all') || this.has('lists:manage_all');
        const cs = visible ? this.campaigns.filter((c) => tags.every((t) => c.tags.includes(t))) : [];
        return [200, { ...page(cs.map((c) => (String(q.no_body) === 'true' ? { ...c, body: '' } : c))), query: '' }];
      }
      case 'GET /api/campaigns/{id}': {
        const c = this.campaigns.find((x) => x.id === p.id);
        return c ? [200, c] : [404, 'Campaign not found.'];
      }
      case 'POST /api/campaigns': {
        // v6.2 drops the lists the user may neither get nor manage before validating (FilterListsByPerm).
        if (this.version === 'v6.2' && !seeAllLists && !this.has('lists:manage_all')) return [400, 'Invalid lists.'];
        const lists = body.lists.map((id: number) => this.lists.find((l) => l.id === id));
        if (lists.some((l: unknown) => !l)) return [400, 'invalid list'];
        const ct = ['richtext', 'html', 'markdown', 'plain', 'visual'].includes(body.content_type) ? body.content_type : 'richtext';
        const c = { id: ++this.ids.campaign, uuid: randomUUID(), name: body.name, subject: body.subject, from_email: body.from_email ?? 'listmonk <noreply@listmonk.yoursite.com>', body: body.body ?? '', altbody: body.altbody ?? null, content_type: ct, type: body.type ?? 'regular', status: 'draft', tags: body.tags ?? [], headers: body.headers ?? [], template_id: body.template_id ?? 1, messenger: body.messenger ?? 'email', lists: lists.map((l: any) => ({ id: l.id, name: l.name })), views: 0, clicks: 0, to_send: 0, sent: 0, created_at: now(), updated_at: now() };
        this.campaigns.push(c);
        return [200, c];
      }
      case 'GET /api/media': {
        const needle = String(q.query ?? '').toLowerCase();
        return [200, page(this.media.filter((x) => x.filename.toLowerCase().includes(needle)))];
      }
      case 'POST /api/media': {
        const file = body.find((x: any) => x.name === 'file');
        if (v4 && !isAscii(file.filename)) return [422, `Invalid filename ${file.filename}. Use only ASCII characters`];
        const ext = /\.([^.]+)$/.exec(file.filename ?? '')?.[1]?.toLowerCase() ?? '';
        if (!this.opts.mediaExtensions.includes(ext)) return [400, `Unsupported file type (${ext})`];
        const magic: Record<string, string> = { png: '89504e47', jpg: 'ffd8ff', jpeg: 'ffd8ff', gif: '474946' };
        if (magic[ext] && !file.data.toString('hex').startsWith(magic[ext])) return [500, 'Error resizing image: image: unknown format'];
        let filename = String(file.filename).trim().replace(/\s+/g, '-').replace(/^.*\//, '');
        if (v4 || this.media.some((x) => x.filename === filename)) filename = filename.replace(/(\.[^.]*)?$/, (e) => `_${randomBytes(3).toString('hex')}${e}`);
        const m = { id: ++this.ids.media, uuid: randomUUID(), filename, content_type: file.contentType ?? 'application/octet-stream', created_at: now(), provider: 'filesystem', meta: {}, url: `${this.url}/uploads/${filename}`, thumb_url: `${this.url}/uploads/thumb_${filename}`, size: file.size };
        this.media.push(m);
        return [200, m];
      }
      case 'POST /webhooks/bounce':
        this.bounces.push(body);
        return [200, true];
    }
    return [404, 'Not Found'];
  }
}

export async function startFakeListmonk(opts: FakeListmonkOptions = {}): Promise<FakeListmonk> {
  return new FakeListmonk(opts).start();
}
