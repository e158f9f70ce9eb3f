/**
 * A Listmonk-compatible HTTP server for tests. Every request is checked against the schemas in
 * test/fixtures/listmonk/listmonk-api.json (extracted from Listmonk v6.2.0's OpenAPI file): route,
 * query and path parameters, body. A request off the spec gets 400 and is recorded in `violations`;
 * our own replies are checked against the response schemas too (a bug in this fake is a violation).
 * Auth: `Authorization: token user:token` (or Basic), 403 {"message":"invalid API credentials"}.
 * Behaviour copied from Listmonk: {"data":…} envelope, 409 on a duplicate subscriber email,
 * campaigns born `draft`, incrementing ids, media `file` part with extension check, bounce webhook.
 * Failure injection: down (connection refused), close (socket destroyed), 500, slow.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { randomUUID } from 'node:crypto';
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
  /** Media extensions accepted (Settings → Media → upload extensions). */
  mediaExtensions?: string[];
  /** bounce.enabled && bounce.webhooks_enabled */
  bounceWebhooks?: boolean;
}

const errs = (v: Validate) => (v.errors ?? []).map((e) => `${e.instancePath || '/'} ${e.message}`).join('; ');
const now = () => new Date().toISOString();

export class FakeListmonk {
  readonly user: string;
  readonly token: string;
  requests: RecordedRequest[] = [];
  violations: Violation[] = [];
  lists: any[] = [];
  subscribers: any[] = [];
  /** subscriber_lists rows */
  subscriptions: Array<{ subscriber_id: number; list_id: number; status: string }> = [];
  campaigns: any[] = [];
  media: any[] = [];
  bounces: any[] = [];
  port = 0;
  private server: Server;
  private sockets = new Set<Socket>();
  private failure: (FailMode & { left?: number }) | null = null;
  private ids = { list: 0, subscriber: 0, campaign: 0, media: 0 };
  private opts: Required<FakeListmonkOptions>;

  constructor(opts: FakeListmonkOptions = {}) {
    this.opts = {
      user: opts.user ?? 'relais',
      token: opts.token ?? 'tok-' + randomUUID(),
      mediaExtensions: opts.mediaExtensions ?? ['jpg', 'jpeg', 'png', 'gif', 'svg', 'pdf'],
      bounceWebhooks: opts.bounceWebhooks ?? true,
    };
    this.user = this.opts.user;
    this.token = this.opts.token;
    this.server = this.makeServer();
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
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
    const op = OPERATIONS.find((o) => o.method === method && o.re.test(u.pathname));
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

    if (!op) return this.violation(res, rec, 'route', `no such operation in the spec: ${method} ${u.pathname}`);
    if (String(req.headers.cookie ?? '').includes('session=')) return this.violation(res, rec, 'auth', 'session cookie sent (listmonk would ignore the Authorization header)');
    const auth = String(req.headers.authorization ?? '');
    let creds: string | undefined;
    if (/^token /i.test(auth)) creds = auth.slice(6);
    else if (/^basic /i.test(auth)) creds = Buffer.from(auth.slice(6), 'base64').toString('utf8');
    else return this.reply(res, rec, 403, { message: 'unknown Authorization scheme' });
    if (!creds.includes(':')) return this.reply(res, rec, 403, { message: 'api_key:token missing' });
    if (creds !== `${this.user}:${this.token}`) return this.reply(res, rec, 403, { message: 'invalid API credentials' });

    const query: Record<string, unknown> = {};
    for (const k of new Set(u.searchParams.keys())) {
      const all = u.searchParams.getAll(k);
      query[k] = all.length > 1 ? all : all[0];
    }
    if (!op.query(query)) return this.violation(res, rec, 'query', errs(op.query));
    rec.query = query;
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
        if (!op.body.validate(rec.body)) return this.violation(res, rec, 'body', errs(op.body.validate));
      } else {
        const parts = parseMultipart(raw, ct);
        if (typeof parts === 'string') return this.violation(res, rec, 'body', parts);
        rec.body = parts.map((p) => ({ name: p.name, filename: p.filename, contentType: p.contentType, size: p.data.length, data: p.data }));
        const file = parts.find((p) => p.name === 'file' && p.filename !== undefined);
        if (!file) return this.violation(res, rec, 'body', 'no "file" part with a filename');
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

  private listView(l: any) {
    return { ...l, subscriber_count: this.subscriptions.filter((s) => s.list_id === l.id).length };
  }

  private subscriberView(s: any) {
    const lists = this.subscriptions.filter((x) => x.subscriber_id === s.id).map((x) => {
      const l = this.lists.find((y) => y.id === x.list_id);
      return { id: l.id, uuid: l.uuid, name: l.name, type: l.type, subscription_status: x.status, tags: l.tags, created_at: l.created_at, updated_at: l.updated_at };
    });
    return { ...s, lists };
  }

  private route(key: string, p: Record<string, any>, q: Record<string, any>, body: any): [number, any] {
    const page = <T>(results: T[]) => ({ results, total: results.length, per_page: results.length, page: 1 });
    switch (key) {
      case 'GET /api/health':
        return [200, true];
      case 'GET /api/lists': {
        let ls = this.lists;
        if (q.query) ls = ls.filter((l) => l.name.toLowerCase().includes(String(q.query).toLowerCase()));
        return [200, page(ls.map((l) => this.listView(l)))];
      }
      case 'GET /api/lists/{list_id}': {
        const l = this.lists.find((x) => x.id === p.list_id);
        return l ? [200, this.listView(l)] : [404, 'List not found'];
      }
      case 'POST /api/lists': {
        const l = { id: ++this.ids.list, uuid: randomUUID(), name: body.name, type: body.type ?? 'private', optin: body.optin ?? 'single', status: body.status ?? 'active', tags: body.tags ?? [], description: body.description ?? '', created_at: now(), updated_at: now() };
        this.lists.push(l);
        return [200, this.listView(l)];
      }
      case 'GET /api/subscribers': {
        const m = /^subscribers\.email\s*=\s*'((?:[^']|'')*)'$/.exec(String(q.query ?? '').trim());
        if (q.query && !m) return [400, 'unsupported query in the fake'];
        const subs = m ? this.subscribers.filter((s) => s.email === m[1].replace(/''/g, "'")) : this.subscribers;
        return [200, { ...page(subs.map((s) => this.subscriberView(s))), query: q.query ?? '' }];
      }
      case 'POST /api/subscribers': {
        const email = String(body.email).toLowerCase();
        if (!/^[^@\s]+@[^@\s]+\.[^@\s]+$/.test(email)) return [400, 'Invalid email.'];
        if (this.subscribers.some((s) => s.email === email)) return [409, 'E-mail already exists.'];
        const listIds: number[] = body.lists ?? [];
        if (listIds.some((id) => !this.lists.some((l) => l.id === id))) return [400, 'invalid list'];
        const s = { id: ++this.ids.subscriber, uuid: randomUUID(), email, name: body.name || email.split('@')[0], status: body.status ?? 'enabled', attribs: body.attribs ?? {}, created_at: now(), updated_at: now() };
        this.subscribers.push(s);
        for (const id of listIds) this.subscriptions.push({ subscriber_id: s.id, list_id: id, status: body.preconfirm_subscriptions ? 'confirmed' : 'unconfirmed' });
        return [200, this.subscriberView(s)];
      }
      case 'PUT /api/subscribers/lists': {
        if (body.action !== 'add') return [400, 'only add is implemented in the fake'];
        for (const sid of body.ids ?? []) for (const lid of body.target_list_ids) {
          if (!this.subscriptions.some((x) => x.subscriber_id === sid && x.list_id === lid)) this.subscriptions.push({ subscriber_id: sid, list_id: lid, status: body.status ?? 'unconfirmed' });
        }
        return [200, true];
      }
      case 'GET /api/campaigns': {
        const tags: string[] = q.tags === undefined ? [] : [q.tags].flat().map(String);
        const cs = this.campaigns.filter((c) => tags.every((t) => c.tags.includes(t)));
        return [200, { ...page(cs.map((c) => (q.no_body ? { ...c, body: '' } : c))), query: '' }];
      }
      case 'GET /api/campaigns/{id}': {
        const c = this.campaigns.find((x) => x.id === p.id);
        return c ? [200, c] : [404, 'Campaign not found'];
      }
      case 'POST /api/campaigns': {
        const lists = body.lists.map((id: number) => this.lists.find((l) => l.id === id));
        if (lists.some((l: unknown) => !l)) return [400, 'invalid list'];
        const ct = ['richtext', 'html', 'markdown', 'plain', 'visual'].includes(body.content_type) ? body.content_type : 'richtext';
        const c = { id: ++this.ids.campaign, uuid: randomUUID(), name: body.name, subject: body.subject, from_email: body.from_email ?? 'listmonk <noreply@listmonk.yoursite.com>', body: body.body ?? '', altbody: body.altbody ?? null, content_type: ct, type: body.type ?? 'regular', status: 'draft', tags: body.tags ?? [], headers: body.headers ?? [], template_id: body.template_id ?? 1, messenger: body.messenger ?? 'email', lists: lists.map((l: any) => ({ id: l.id, name: l.name })), views: 0, clicks: 0, to_send: 0, sent: 0, created_at: now(), updated_at: now() };
        this.campaigns.push(c);
        return [200, c];
      }
      case 'POST /api/media': {
        const file = body.find((x: any) => x.name === 'file');
        const ext = /\.([^.]+)$/.exec(file.filename ?? '')?.[1]?.toLowerCase() ?? '';
        if (!this.opts.mediaExtensions.includes(ext)) return [400, `Unsupported file type (${ext})`];
        const magic: Record<string, string> = { png: '89504e47', jpg: 'ffd8ff', jpeg: 'ffd8ff', gif: '474946' };
        if (magic[ext] && !file.data.toString('hex').startsWith(magic[ext])) return [500, 'Error resizing image: image: unknown format'];
        const uuid = randomUUID();
        const filename = file.filename.replace(/[^\w.-]/g, '_');
        const m = { id: ++this.ids.media, uuid, filename, content_type: file.contentType ?? 'application/octet-stream', created_at: now(), provider: 'filesystem', meta: {}, url: `${this.url}/uploads/${filename}`, thumb_url: `${this.url}/uploads/thumb_${filename}`, size: file.size };
        this.media.push(m);
        return [200, m];
      }
      case 'POST /webhooks/bounce':
        if (!this.opts.bounceWebhooks) return [503, 'Bounce processing is not enabled'];
        this.bounces.push(body);
        return [200, true];
    }
    return [404, 'not found'];
  }
}

export async function startFakeListmonk(opts: FakeListmonkOptions = {}): Promise<FakeListmonk> {
  return new FakeListmonk(opts).start();
}
