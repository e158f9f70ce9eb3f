/**
 * Typed client for the few Listmonk API calls Relais makes (v4+ API users; tested against the
 * v6.2.0 spec). Auth is `Authorization: token user:token`, never cookies (a session cookie would make
 * Listmonk ignore the header). Replies are unwrapped from `{"data": …}`. Every failure is a
 * ListmonkError naming the instance and the call, and never the token. Network errors, timeouts,
 * 5xx and 429 are retried with exponential back-off; other 4xx are not (the request or the API
 * user's role is wrong: retrying cannot help). Behaviours are those of Listmonk v4.1, v5.1 and v6.2
 * (knadh/listmonk cmd/*.go), not of its OpenAPI file where the two disagree.
 */

export interface ListmonkConnection {
  /** API base, e.g. "http://listmonk:9000" (no /api suffix). */
  url: string;
  user: string;
  token: string;
}

export interface ClientOptions {
  /** Per-attempt timeout (default 10 s). */
  timeoutMs?: number;
  /** Extra attempts after the first on network errors and 5xx (default 3). */
  retries?: number;
  /** First back-off delay, doubled each retry (default 250 ms), capped by maxBackoffMs (5 s). */
  backoffMs?: number;
  maxBackoffMs?: number;
  fetch?: typeof fetch;
}

export interface CallOptions {
  retries?: number;
  timeoutMs?: number;
}

import type { ListmonkList, NewList, Subscriber, NewSubscriber, NewCampaign, Campaign, Media, BounceEvent, Page, Profile } from './types.js';

export type { ListmonkList, NewList, Subscriber, NewSubscriber, NewCampaign, Campaign, Media, BounceEvent, Page, Profile } from './types.js';

/** Statuses worth retrying besides network errors and 5xx: the server asked us to slow down or wait. */
const RETRY_STATUSES = new Set([408, 429]);

export class ListmonkError extends Error {
  /** HTTP status, or undefined for network errors / timeouts. */
  readonly status: number | undefined;
  readonly instance: string;
  readonly call: string;
  readonly retryable: boolean;
  constructor(instance: string, call: string, detail: string, status: number | undefined, retryable: boolean) {
    super(`listmonk ${instance} ${call}: ${detail}`);
    this.name = 'ListmonkError';
    this.instance = instance;
    this.call = call;
    this.status = status;
    this.retryable = retryable;
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Instance URL without credentials or trailing slash, safe for logs. */
export function displayUrl(url: string): string {
  try {
    const u = new URL(url);
    u.username = '';
    u.password = '';
    return u.toString().replace(/\/+$/, '');
  } catch {
    return url.replace(/\/\/[^@/]*@/, '//').replace(/\/+$/, '');
  }
}

type Body = { json: unknown } | { form: () => FormData };

export class ListmonkClient {
  readonly instance: string;
  private readonly base: string;
  private readonly auth: string;
  private readonly token: string;
  private readonly opts: Required<Omit<ClientOptions, 'fetch'>> & { fetch: typeof fetch };

  constructor(conn: ListmonkConnection, opts: ClientOptions = {}) {
    this.base = conn.url.replace(/\/+$/, '');
    this.instance = displayUrl(conn.url);
    this.token = conn.token;
    this.auth = `token ${conn.user}:${conn.token}`;
    this.opts = {
      timeoutMs: opts.timeoutMs ?? 10_000,
      retries: opts.retries ?? 3,
      backoffMs: opts.backoffMs ?? 250,
      maxBackoffMs: opts.maxBackoffMs ?? 5_000,
      fetch: opts.fetch ?? globalThis.fetch,
    };
  }

  async health(): Promise<boolean> {
    return (await this.request<boolean>('GET', '/api/health')) === true;
  }

  /** Server settings visible to any API user; `version` is e.g. "v6.2.0" (cmd/admin.go). */
  async serverConfig(): Promise<{ version: string }> {
    return this.request<{ version: string }>('GET', '/api/config');
  }

  /** The API user and its role's permissions (cmd/users.go GetUserProfile). */
  async profile(): Promise<Profile> {
    return this.request<Profile>('GET', '/api/profile');
  }

  /** Lists the API user may see: all with lists:get_all, else only per-list-role ones. With
   * `minimal`, Listmonk answers a bare `[]` instead of a page when none is visible (cmd/lists.go). */
  async queryLists(params: { query?: string; per_page?: number | 'all'; page?: number; minimal?: boolean; tag?: string[] } = {}): Promise<Page<ListmonkList>> {
    return asPage(await this.request<Page<ListmonkList> | ListmonkList[]>('GET', '/api/lists', { query: params }));
  }

  /** Exact-name lookup. Listmonk's `query` is a full-text search (to_tsquery), unsafe for names with
   * punctuation, so we list all lists (minimal) and compare names ourselves. */
  async findListByName(name: string): Promise<ListmonkList | null> {
    const page = await this.queryLists({ per_page: 'all', minimal: true });
    return page.results.find((l) => l.name === name) ?? null;
  }

  async getList(id: number): Promise<ListmonkList> {
    return this.request<ListmonkList>('GET', `/api/lists/${id}`);
  }

  /** Not retried: list names are not unique in Listmonk, so a repeated POST makes a second list.
   * Callers go through findOrCreate. */
  async createList(list: NewList): Promise<ListmonkList> {
    return this.request<ListmonkList>('POST', '/api/lists', { body: { json: list }, retries: 0 });
  }

  async findSubscriberByEmail(email: string): Promise<Subscriber | null> {
    const quoted = email.toLowerCase().replace(/'/g, "''");
    const page = await this.request<Page<Subscriber>>('GET', '/api/subscribers', {
      query: { query: `subscribers.email = '${quoted}'`, per_page: 1 },
    });
    return page.results[0] ?? null;
  }

  /** Creates a subscriber; on 409 (email exists) returns the existing one, left unchanged. */
  async createSubscriber(sub: NewSubscriber): Promise<{ created: boolean; subscriber: Subscriber }> {
    try {
      const subscriber = await this.request<Subscriber>('POST', '/api/subscribers', { body: { json: sub } });
      return { created: true, subscriber };
    } catch (err) {
      if (!(err instanceof ListmonkError) || err.status !== 409) throw err;
      const existing = await this.findSubscriberByEmail(sub.email);
      if (!existing) throw err;
      return { created: false, subscriber: existing };
    }
  }

  async addSubscribersToLists(ids: number[], listIds: number[], status: 'confirmed' | 'unconfirmed' | 'unsubscribed'): Promise<void> {
    await this.request<boolean>('PUT', '/api/subscribers/lists', {
      body: { json: { ids, action: 'add', target_list_ids: listIds, status } },
    });
  }

  /** Not retried by default: a POST that timed out may have created the campaign. Callers that
   * retry first look the campaign up by a unique tag (findCampaignByTag). */
  async createCampaign(c: NewCampaign, call: CallOptions = { retries: 0 }): Promise<Campaign> {
    return this.request<Campaign>('POST', '/api/campaigns', { body: { json: c }, ...call });
  }

  async getCampaign(id: number): Promise<Campaign> {
    return this.request<Campaign>('GET', `/api/campaigns/${id}`);
  }

  async findCampaignByTag(tag: string): Promise<Campaign | null> {
    // Listmonk reads `tag` (cmd/campaigns.go); its OpenAPI file says `tags`, which it ignores.
    const page = await this.request<Page<Campaign>>('GET', '/api/campaigns', {
      query: { tag: [tag], no_body: true, per_page: 'all' },
    });
    return page.results.find((c) => c.tags?.includes(tag)) ?? null;
  }

  /** Media whose file name contains `needle` (case-insensitive; queries/media.sql query-media). */
  async findMedia(needle: string): Promise<Media | null> {
    const page = await this.request<Page<Media>>('GET', '/api/media', { query: { query: needle, per_page: 20 } });
    return page.results.find((m) => m.filename.toLowerCase().includes(needle.toLowerCase())) ?? null;
  }

  /** Not retried (a repeated upload is a second file): callers go through findOrCreate. The name is
   * made ASCII first: v4 refuses any other with 422 (cmd/media.go isASCII). */
  async uploadMedia(file: { filename: string; contentType: string; data: Uint8Array }): Promise<Media> {
    const form = () => {
      const fd = new FormData();
      fd.append('file', new Blob([new Uint8Array(file.data)], { type: file.contentType }), asciiFilename(file.filename));
      return fd;
    };
    return this.request<Media>('POST', '/api/media', { body: { form }, retries: 0 });
  }

  async postBounce(ev: BounceEvent, call: CallOptions = {}): Promise<void> {
    await this.request<boolean>('POST', '/webhooks/bounce', { body: { json: ev }, ...call });
  }

  private buildUrl(path: string, query?: Record<string, unknown>): string {
    const u = new URL(this.base + path);
    for (const [k, v] of Object.entries(query ?? {})) {
      if (v === undefined) continue;
      for (const item of Array.isArray(v) ? v : [v]) u.searchParams.append(k, String(item));
    }
    return u.toString();
  }

  private scrub(s: string): string {
    return this.token ? s.split(this.token).join('***') : s;
  }

  async request<T>(method: string, path: string, o: { query?: Record<string, unknown>; body?: Body } & CallOptions = {}): Promise<T> {
    const call = `${method} ${path}`;
    const retries = o.retries ?? this.opts.retries;
    const timeoutMs = o.timeoutMs ?? this.opts.timeoutMs;
    const url = this.buildUrl(path, o.query);
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.attempt<T>(method, url, call, timeoutMs, o.body);
      } catch (err) {
        if (!(err instanceof ListmonkError) || !err.retryable || attempt >= retries) throw err;
        await sleep(Math.min(this.opts.backoffMs * 2 ** attempt, this.opts.maxBackoffMs));
      }
    }
  }

  private async attempt<T>(method: string, url: string, call: string, timeoutMs: number, body?: Body): Promise<T> {
    const headers: Record<string, string> = { Authorization: this.auth, Accept: 'application/json' };
    let payload: string | FormData | undefined;
    if (body && 'json' in body) {
      headers['Content-Type'] = 'application/json';
      payload = JSON.stringify(body.json);
    } else if (body) {
      payload = body.form();
    }
    let res: Response;
    let text: string;
    try {
      res = await this.opts.fetch(url, { method, headers, body: payload, signal: AbortSignal.timeout(timeoutMs), redirect: 'error' });
      text = await res.text();
    } catch (err) {
      const e = err as Error & { cause?: { code?: string; message?: string } };
      const detail = e.name === 'TimeoutError' || e.name === 'AbortError'
        ? `timeout after ${timeoutMs} ms`
        : `network error: ${e.cause?.code ?? e.cause?.message ?? e.message}`;
      throw new ListmonkError(this.instance, call, this.scrub(detail), undefined, true);
    }
    let json: unknown;
    try {
      json = text ? JSON.parse(text) : undefined;
    } catch {
      json = undefined;
    }
    if (!res.ok) {
      const msg = (json as { message?: unknown } | undefined)?.message;
      const detail = `${res.status} ${typeof msg === 'string' ? msg : text.slice(0, 200) || res.statusText}`;
      throw new ListmonkError(this.instance, call, this.scrub(detail), res.status, res.status >= 500 || RETRY_STATUSES.has(res.status));
    }
    if (!json || typeof json !== 'object' || !('data' in json)) {
      throw new ListmonkError(this.instance, call, `${res.status} reply without {"data": …} envelope`, res.status, false);
    }
    return (json as { data: T }).data;
  }
}

/** `{"data": []}` (nothing visible) and a page are the same answer to us. */
function asPage<T>(data: Page<T> | T[] | null | undefined): Page<T> {
  if (Array.isArray(data)) return { results: data, total: data.length };
  if (!data || !Array.isArray(data.results)) return { results: [], total: 0 };
  return data;
}

/** "Réunion été.pdf" → "Reunion-ete.pdf": accents dropped, other non-ASCII and spaces → "-". */
export function asciiFilename(name: string): string {
  const ascii = name
    .normalize('NFKD')
    .replace(/[\u0300-\u036f]/g, '')
    .replace(/[^\x21-\x7e]+/g, '-')
    .replace(/[\/\\]/g, '-')
    .replace(/^-+|-+$/g, '');
  return ascii || 'fichier';
}

/**
 * Creates an object once although a reply may be lost: looks it up by its unique name or tag first,
 * and after a create that failed in a way that may have happened anyway (network, timeout, 5xx),
 * looks again before giving up, so the retry of the job does not make a second one.
 * `alreadyLooked`: the caller has just looked it up (and needed the answer itself).
 */
export async function findOrCreate<T>(find: () => Promise<T | null>, create: () => Promise<T>, opts: { alreadyLooked?: boolean } = {}): Promise<T> {
  const found = opts.alreadyLooked ? null : await find();
  if (found) return found;
  try {
    return await create();
  } catch (err) {
    if (err instanceof ListmonkError && err.retryable) {
      const after = await find().catch(() => null);
      if (after) return after;
    }
    throw err;
  }
}
