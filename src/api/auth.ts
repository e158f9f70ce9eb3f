/**
 * Bearer-token authentication for the admin API, as a Fastify hook. Failed attempts are counted
 * per client address (the SMTP AUTH counters: bounded memory) and, past a small budget, answered
 * 429 for a minute before the token is even looked up (stricter than the global rate limit). `requireAdmin` / `tenantFilter` express the scopes.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Store } from '../store/types.js';
import { StoreUnavailableError } from '../store/types.js';
import { AuthGuard } from '../../relay/intake/auth-guard.js';
import { verifyToken, type Principal } from './tokens.js';

declare module 'fastify' {
  interface FastifyRequest {
    principal?: Principal;
  }
}

export class HttpError extends Error {
  constructor(
    readonly statusCode: number,
    message: string,
  ) {
    super(message);
  }
}

const FAIL_WINDOW_MS = 60_000;

export function createAuthHook(store: Store, opts: { envAdminToken?: string; maxFailuresPerMinute?: number }) {
  // The SMTP AUTH counters (bounded memory, IPv6 per /64), per address only.
  const failures = new AuthGuard({
    failuresPerAddress: opts.maxFailuresPerMinute ?? 10,
    failuresPerUser: Number.MAX_SAFE_INTEGER,
    failuresPerConnection: Number.MAX_SAFE_INTEGER,
    windowMs: FAIL_WINDOW_MS,
    coolOffMs: FAIL_WINDOW_MS,
  });

  return async function authenticate(req: FastifyRequest, reply: FastifyReply): Promise<void> {
    const ip = req.ip;
    const wait = failures.blockedFor(ip);
    if (wait > 0) {
      reply.header('retry-after', Math.ceil(wait / 1000));
      throw new HttpError(429, 'Trop d’échecs d’authentification, réessayez dans une minute / Too many failed authentication attempts, retry in a minute');
    }
    const header = req.headers.authorization ?? '';
    const m = /^Bearer\s+(\S+)$/i.exec(header);
    let principal: Principal | null = null;
    if (m) {
      try {
        principal = await verifyToken(store, m[1]!, opts.envAdminToken);
      } catch (err) {
        if (err instanceof StoreUnavailableError) throw new HttpError(503, 'Stockage indisponible, réessayez / Store unavailable, try again');
        throw err;
      }
    }
    if (!principal) {
      failures.failure(ip);
      throw new HttpError(401, m ? 'Jeton invalide / Invalid token' : 'Jeton requis : en-tête « Authorization: Bearer <jeton> » / Token required: send "Authorization: Bearer <token>"');
    }
    req.principal = principal;
  };
}

export function requireAdmin(req: FastifyRequest): void {
  if (!req.principal?.admin) throw new HttpError(403, 'Réservé aux jetons admin / This action needs an admin token');
}

/** For tenant-scoped tokens: the only tenant they may see; undefined = admin, sees all. */
export function tenantFilter(req: FastifyRequest): string | undefined {
  return req.principal?.admin ? undefined : req.principal?.tenant;
}

export function requireTenantAccess(req: FastifyRequest, tenant: string | undefined): void {
  const only = tenantFilter(req);
  if (only !== undefined && tenant !== only) throw new HttpError(403, `Ce jeton ne donne accès qu’au locataire ${only} / This token only grants access to tenant ${only}`);
}
