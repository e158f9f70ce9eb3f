/**
 * How an admin command reaches the admin API. One code path, HTTP semantics everywhere:
 *  - a relay runs on this data dir (lock file) or --api / RELAIS_API_URL is given: real HTTP;
 *    without a token, a short-lived admin token is minted in the shared store and revoked after,
 *    so an admin with access to the data dir needs no token;
 *  - no relay: the same services and Fastify app are opened in-process (data dir locked) and
 *    requests go through app.inject(), authenticated by a one-off secret never stored.
 */
import { randomBytes } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import pino from 'pino';
import type { RelaisConfig } from '../config/config.js';
import { lockDataDir, runningRelay } from '../data-dir.js';
import { createLogger, type Logger } from '../log.js';

export type HttpMethod = 'GET' | 'POST' | 'PUT' | 'DELETE';

export interface ApiCaller {
  /** Parsed JSON answer; throws ApiError (message = the API's message) on a non-2xx status. */
  call<T = unknown>(method: HttpMethod, path: string, body?: unknown): Promise<T>;
  /** 'http' (a running relay) or 'offline' (services opened in this process). */
  readonly mode: 'http' | 'offline';
  /** Where the calls go, for --verbose and error messages. */
  readonly target: string;
}

export class ApiError extends Error {
  constructor(
    readonly statusCode: number,
    message: string,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

export interface BackendOptions {
  /** --api: base URL of a relay's admin API (else RELAIS_API_URL, else the lock file). */
  api?: string;
  /** --token (else RELAIS_API_TOKEN, else the configured admin token, else minted). */
  token?: string;
  verbose?: boolean;
  env?: NodeJS.ProcessEnv;
}

type Cleanup = () => Promise<unknown> | unknown;

/** CLI logs go to stderr (stdout is the command's output), quiet unless --verbose. */
export function cliLogger(verbose: boolean): Logger {
  return createLogger(verbose ? 'debug' : 'warn', pino.destination({ dest: 2, sync: true }));
}

function toApiError(status: number, text: string, where: string): ApiError {
  let message = text.trim();
  try {
    const j = JSON.parse(text) as { message?: string };
    if (j && typeof j.message === 'string') message = j.message;
  } catch {
    /* not JSON: keep the text */
  }
  return new ApiError(status, message || `HTTP ${status} from ${where}`);
}

function parseBody(text: string): unknown {
  if (!text) return null;
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

/** "0.0.0.0:8025" / ":::8025" / "127.0.0.1:8025" from the lock file → a URL we can connect to. */
export function apiUrlFromLock(addr: string): string | null {
  const i = addr.lastIndexOf(':');
  if (i <= 0) return null;
  let host = addr.slice(0, i).replace(/^\[|\]$/g, '');
  const port = Number(addr.slice(i + 1));
  if (!Number.isInteger(port) || port <= 0) return null;
  if (host === '0.0.0.0' || host === '') host = '127.0.0.1';
  if (host === '::') host = '::1';
  return `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
}

/** The running relay's API URL; waits a little while it is still starting (port not yet known). */
async function runningApiUrl(dataDir: string): Promise<string | null> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const r = runningRelay(dataDir);
    if (!r) return null;
    const url = apiUrlFromLock(r.api);
    if (url) return url;
    if (r.api === 'cli') throw new Error(`data dir ${dataDir} is in use by another relais command (pid ${r.pid}); retry when it is done`);
    if (Date.now() > deadline) throw new Error(`the relay (pid ${r.pid}) on ${dataDir} has not published its API address yet; retry in a moment`);
    await new Promise((res) => setTimeout(res, 200));
  }
}

function httpCaller(base: string, token: string, minted: boolean): ApiCaller {
  const root = base.replace(/\/+$/, '').replace(/\/api\/v1$/, '');
  return {
    mode: 'http',
    target: root,
    async call<T>(method: HttpMethod, path: string, body?: unknown): Promise<T> {
      let res: Response;
      try {
        res = await fetch(`${root}/api/v1${path}`, {
          method,
          headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
          body: body === undefined ? undefined : JSON.stringify(body),
        });
      } catch (err) {
        const cause = (err as { cause?: { code?: string; message?: string } }).cause;
        throw new Error(`cannot reach the admin API at ${root}: ${cause?.code ?? cause?.message ?? (err as Error).message}`);
      }
      const text = await res.text();
      if (res.status === 401 && minted) throw new ApiError(401, `the relay at ${root} does not share this data dir's store, so a local token is refused: give --token or RELAIS_API_TOKEN`);
      if (!res.ok) throw toApiError(res.status, text, root);
      return parseBody(text) as T;
    },
  };
}

function injectCaller(app: FastifyInstance, secret: string): ApiCaller {
  return {
    mode: 'offline',
    target: 'in-process',
    async call<T>(method: HttpMethod, path: string, body?: unknown): Promise<T> {
      const res = await app.inject({
        method,
        url: `/api/v1${path}`,
        headers: { authorization: `Bearer ${secret}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
        payload: body === undefined ? undefined : JSON.stringify(body),
      });
      if (res.statusCode >= 400) throw toApiError(res.statusCode, res.body, 'in-process API');
      return parseBody(res.body) as T;
    },
  };
}

/** Library deprecation notices (e.g. Fastify's) are for developers: shown only with --verbose. */
function quietDeprecations(): void {
  const emit = process.emitWarning.bind(process) as (...a: unknown[]) => void;
  process.emitWarning = ((warning: string | Error, ...rest: unknown[]) => {
    const type = typeof rest[0] === 'string' ? rest[0] : (rest[0] as { type?: string } | undefined)?.type;
    if (/Deprecation/.test(String(type ?? (warning as Error).name ?? ''))) return;
    emit(warning, ...rest);
  }) as typeof process.emitWarning;
}

async function runCleanups(cleanups: Cleanup[], log: Logger): Promise<void> {
  for (const c of cleanups.reverse()) await Promise.resolve(c()).catch((err: unknown) => log.warn({ err: (err as Error).message }, 'cli cleanup failed'));
}

/** Runs `fn` with an API caller; everything opened for it is closed afterwards, even on error. */
export async function withApi<T>(config: RelaisConfig, opts: BackendOptions, fn: (api: ApiCaller) => Promise<T>): Promise<T> {
  const env = opts.env ?? process.env;
  const log = cliLogger(Boolean(opts.verbose));
  const cleanups: Cleanup[] = [];
  if (!opts.verbose) quietDeprecations();
  try {
    const explicit = opts.api ?? env.RELAIS_API_URL;
    const url = explicit || (await runningApiUrl(config.data_dir));
    let api: ApiCaller;
    if (url) {
      let token = opts.token ?? env.RELAIS_API_TOKEN ?? config.api.admin_token;
      const minted = !token;
      if (!token) {
        // Same store as the relay (LMDB is multi-process safe, Redis is shared).
        const [{ openStore }, { createToken, revokeToken }] = await Promise.all([import('../store/open.js'), import('../api/tokens.js')]);
        const store = await openStore({ redisUrl: config.store.redis_url, dataDir: config.data_dir, prefix: config.store.prefix });
        cleanups.push(() => store.close());
        const fresh = await createToken(store, `cli-${process.pid}`, ['admin']);
        cleanups.push(() => revokeToken(store, fresh.info.id));
        token = fresh.token;
      }
      api = httpCaller(url, token, minted);
    } else {
      cleanups.push(lockDataDir(config.data_dir, 'cli'));
      // Loaded only here: the HTTP path needs none of the relay's modules.
      const [{ openServices }, { buildApi }, { buildApiRoutes }] = await Promise.all([import('../main.js'), import('../api/server.js'), import('../api/routes/index.js')]);
      const services = await openServices(config, log, cleanups);
      const secret = randomBytes(32).toString('base64url');
      const app = await buildApi({ store: services.store, log, envAdminToken: secret, rateLimitPerMinute: 1_000_000, ...buildApiRoutes(services) });
      cleanups.push(() => app.close());
      await app.ready();
      api = injectCaller(app, secret);
    }
    log.debug({ mode: api.mode, target: api.target }, 'cli backend');
    return await fn(api);
  } finally {
    await runCleanups(cleanups, log);
  }
}
