/**
 * The intake's answer to AUTH: TLS first where required, then the failure counters of
 * auth-guard.ts before any password is checked (a blocked address or a locked user costs no
 * scrypt), then the client directory. Every outcome is reported to `onResult` (metrics).
 */
import type { SMTPServerAuthentication, SMTPServerSession } from 'smtp-server';
import type { Logger } from 'pino';
import type { AuthGuard } from './auth-guard.js';
import type { ClientLookup, KnownClient } from './intake.js';
import { REPLIES, type SmtpErrorLike } from './replies.js';

export type AuthResult = 'ok' | 'failed' | 'address_blocked' | 'user_locked' | 'connection_closed' | 'unverified' | 'tls_required';

export interface AuthHandlerDeps {
  guard: AuthGuard;
  clients: ClientLookup;
  log: Logger;
  authRequiresTls: boolean;
  insecureAuthAllowed(ip: string): boolean;
  onResult?(result: AuthResult): void;
}

type AuthCallback = (err: Error | null | undefined, response?: { user: unknown }) => void;

/** A closing 421 waits a second, like Postfix's smtpd_error_sleep_time: a guesser that reconnects
 * at once would otherwise turn its block into a connection flood. */
const CLOSE_DELAY_MS = 1000;

export function createAuthHandler(d: AuthHandlerDeps) {
  const { guard, log } = d;
  /** AUTH failures of each open connection. */
  const failures = new Map<string, number>();
  const blocked = () => REPLIES.authBlocked(Math.ceil(guard.coolOffMs / 60_000));

  function handle(listener: string, auth: SMTPServerAuthentication, session: SMTPServerSession, cb: AuthCallback, onOk: (c: KnownClient) => unknown): void {
    const report = (r: AuthResult) => d.onResult?.(r);
    const ip = session.remoteAddress;
    if (d.authRequiresTls && !session.secure && !d.insecureAuthAllowed(ip)) {
      report('tls_required');
      return cb(REPLIES.encryptionRequired());
    }
    const user = auth.username ?? '';
    const close = (reply: SmtpErrorLike): void => {
      setTimeout(() => cb(reply), CLOSE_DELAY_MS).unref();
    };
    const refuse = (reply: SmtpErrorLike, result: AuthResult, countUser: boolean): void => {
      const nowBlocked = guard.failure(ip, countUser ? user : undefined);
      const n = (failures.get(session.id) ?? 0) + 1;
      failures.set(session.id, n);
      if (nowBlocked) {
        log.warn({ smtp: listener, client: ip, user }, 'smtp: authentication failures, address blocked');
        report('address_blocked');
        return close(blocked());
      }
      if (n >= guard.failuresPerConnection) {
        report('connection_closed');
        return close(REPLIES.authTooManyOnConnection());
      }
      report(result);
      cb(reply);
    };
    const gate = guard.gate(ip, user);
    if (gate === 'address-blocked') {
      report('address_blocked');
      return close(blocked());
    }
    if (gate === 'user-locked') {
      log.warn({ smtp: listener, client: ip, user }, 'smtp: authentication refused, user locked for new addresses');
      return refuse(REPLIES.authUserLocked(), 'user_locked', false);
    }
    d.clients
      .authenticate(user, auth.password ?? '', guard.known(ip, user))
      .then((c) => {
        if (!c) {
          log.warn({ smtp: listener, client: ip, user, method: auth.method }, 'smtp: authentication failed');
          return refuse(REPLIES.authFailed(), 'failed', true);
        }
        guard.success(ip, user);
        log.info({ smtp: listener, client: ip, user: c.name }, 'smtp: authenticated');
        report('ok');
        cb(null, { user: onOk(c) });
      })
      .catch((err: unknown) => {
        // Store down, or too many verifications waiting: temporary, and not the client's failure.
        log.error({ smtp: listener, err: (err as Error).message }, 'smtp: credentials not verified');
        report('unverified');
        cb(REPLIES.authTempFail());
      });
  }

  return {
    handle,
    /** The connection closed: its failure count goes with it. */
    forget: (sessionId: string) => failures.delete(sessionId),
  };
}
