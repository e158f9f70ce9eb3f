/**
 * The SMTP intake: one smtp-server per configured listener, sharing the client directory, the
 * spool and the hooks. Logs one line per SMTP transaction (with the queue id) and per refusal.
 */
import { SMTPServer, type SMTPServerAddress, type SMTPServerAuthentication, type SMTPServerSession } from 'smtp-server';
import type { Logger } from 'pino';
import type { SpoolApi } from '../spool/spool.js';
import { checkAddress } from './address.js';
import type { AuthGuard } from './auth-guard.js';
import { createAuthHandler, type AuthResult } from './auth.js';
import type { IntakeHooks } from './hooks.js';
import { REPLIES, smtpError, type SmtpErrorLike } from './replies.js';
import { identity, receiveData, verdictError, type IntakeLimits, type SessionClient } from './session.js';
import { applySmtpServerPatches, hideAuthWhen, setGreetingDelay } from './smtp-patches.js';

export interface ListenerOptions {
  name: string;
  host: string;
  port: number;
  starttls: boolean;
  implicitTls: boolean;
  auth: boolean;
  requireAuth: boolean;
  /** Unknown clients may send here, but only reports to the bounce domain (hooks.reportRecipient). */
  inbound?: boolean;
  /** Outbound identity of the mail received here (envelope.pool). */
  pool?: string;
}

export interface KnownClient {
  name: string;
  tenants: string[];
  newsletter: boolean;
  allowNullSender: boolean;
  trusted: boolean;
}

export interface ClientLookup {
  byAddress(ip: string): Promise<KnownClient | null>;
  /** `priority`: the user authenticated from this address before (checked ahead of guesses). */
  authenticate(user: string, password: string, priority: boolean): Promise<KnownClient | null>;
}

export interface IntakeOptions {
  listeners: ListenerOptions[];
  limits: IntakeLimits;
  tls: { key: Buffer; cert: Buffer };
  authRequiresTls: boolean;
  /** Whether this client address may AUTH without TLS (loopback by default). */
  insecureAuthAllowed(ip: string): boolean;
  /** AUTH failure counting (per address, user name and connection). */
  authGuard: AuthGuard;
  /** Each AUTH outcome (metrics). */
  onAuthResult?(result: AuthResult): void;
  banner: string;
  socketTimeoutMs: number;
  maxClients: number;
  greetingDelayMs: number;
}

export interface Intake {
  /** Bound addresses, in listener order. */
  addresses(): Array<{ name: string; host: string; port: number }>;
  start(): Promise<void>;
  /** Stops taking connections, lets transactions in DATA finish (bounded), closes sessions. */
  stop(timeoutMs?: number): Promise<void>;
  activeTransactions(): number;
  sessions(): number;
}

/** An unknown client of an inbound listener (a remote MTA returning a DSN or a complaint). */
const INBOUND_CLIENT: SessionClient = { name: 'inbound', tenants: [], newsletter: false, allowNullSender: true, trusted: false, authenticated: false, anonymous: true };

export function createIntake(deps: { options: IntakeOptions; spool: SpoolApi; clients: ClientLookup; hooks: IntakeHooks; log: Logger }): Intake {
  applySmtpServerPatches();
  setGreetingDelay(deps.options.greetingDelayMs);
  const { options, spool, clients, log } = deps;
  const hooks = deps.hooks;
  let stopping = false;
  let inData = 0;
  let sessionCount = 0;
  const clientsBySession = new Map<string, SessionClient>();
  /** Sender refusals held back to RCPT: reports to the bounce domain are still taken. */
  const refusedSenders = new Map<string, SmtpErrorLike>();
  const authHandler = createAuthHandler({
    guard: options.authGuard,
    clients,
    log,
    authRequiresTls: options.authRequiresTls,
    insecureAuthAllowed: options.insecureAuthAllowed,
    onResult: options.onAuthResult,
  });
  const servers: Array<{ l: ListenerOptions; server: SMTPServer }> = [];

  const sessionClient = (session: SMTPServerSession, l: ListenerOptions): SessionClient | null => {
    const authed = session.user as unknown as SessionClient | undefined;
    if (authed && typeof authed === 'object') return authed;
    return clientsBySession.get(session.id) ?? (l.inbound ? INBOUND_CLIENT : null);
  };

  const build = (l: ListenerOptions): SMTPServer => {
    const server = new SMTPServer({
      name: deps.options.limits.hostname,
      banner: options.banner,
      secure: l.implicitTls,
      key: options.tls.key,
      cert: options.tls.cert,
      hideSTARTTLS: !l.starttls,
      disabledCommands: l.auth ? [] : ['AUTH'],
      authMethods: ['PLAIN', 'LOGIN'],
      allowInsecureAuth: true,
      authOptional: true,
      size: options.limits.maxMessageSize,
      hideSize: false,
      hide8BITMIME: false,
      hidePIPELINING: false,
      hideSMTPUTF8: false,
      hideENHANCEDSTATUSCODES: false,
      hideDSN: true,
      hideREQUIRETLS: true,
      useXClient: false,
      useXForward: false,
      disableReverseLookup: true,
      logger: false,
      maxClients: options.maxClients,
      socketTimeout: options.socketTimeoutMs,
      closeTimeout: 2_000,
      onConnect(session, cb) {
        if (stopping) return cb(REPLIES.shuttingDown());
        sessionCount++;
        clients
          .byAddress(session.remoteAddress)
          .then((c) => {
            if (c) clientsBySession.set(session.id, { ...c, authenticated: false });
            cb();
          })
          .catch((err: unknown) => {
            log.error({ err: (err as Error).message }, 'smtp: client directory unavailable');
            cb(smtpError(421, '4.3.0', 'Service temporairement indisponible / Service temporarily unavailable'));
          });
      },
      onClose(session) {
        sessionCount = Math.max(0, sessionCount - 1);
        clientsBySession.delete(session.id);
        refusedSenders.delete(session.id);
        authHandler.forget(session.id);
      },
      onAuth(auth: SMTPServerAuthentication, session, cb) {
        authHandler.handle(l.name, auth, session, cb as never, (c) => ({ ...c, authenticated: true }));
      },
      onMailFrom(address: SMTPServerAddress, session, cb) {
        if (stopping) return cb(REPLIES.shuttingDown());
        const client = sessionClient(session, l);
        if (!client || (l.requireAuth && !client.authenticated && !client.anonymous)) {
          log.warn({ smtp: l.name, client: session.remoteAddress, from: address.address }, 'smtp: relay access denied');
          return cb(REPLIES.authRequired());
        }
        refusedSenders.delete(session.id);
        const bad = checkAddress(address.address, 'sender');
        if (bad) return cb(bad);
        // Remote MTAs sending reports are unknown: their recipients are checked at RCPT instead.
        if (client.anonymous || !hooks.checkSender) return cb();
        hooks
          .checkSender(identity(client, session.remoteAddress), address.address)
          .then((v) => {
            if (v && v.action !== 'accept' && v.action !== 'hold') {
              log.info({ smtp: l.name, client: client.name, from: address.address, verdict: v.action, reason: v.reason }, 'smtp: sender refused');
              // A client forwarding DSNs/complaints (e.g. Mailcow, null sender) may still reach the bounce domain.
              if (hooks.reportRecipient) {
                refusedSenders.set(session.id, verdictError(v));
                return cb();
              }
              return cb(verdictError(v));
            }
            cb();
          })
          .catch((err: unknown) => {
            log.error({ err }, 'smtp: sender check failed');
            cb(REPLIES.spoolError());
          });
      },
      onRcptTo(address: SMTPServerAddress, session, cb) {
        const client = sessionClient(session, l);
        if (!client) return cb(REPLIES.authRequired());
        if (session.envelope.rcptTo.length >= options.limits.maxRecipients) return cb(REPLIES.tooManyRecipients(options.limits.maxRecipients));
        const kind = hooks.reportRecipient?.(address.address) ?? null;
        // An MX takes "RCPT TO:<Postmaster>" without a domain (RFC 5321 §4.5.1): the report taker knows it.
        const bad = client.anonymous && kind === 'postmaster' ? null : checkAddress(address.address, 'recipient');
        if (bad) return cb(bad);
        // Reports for two different takers (e.g. a DMARC report and a VERP bounce) cannot share one
        // message: the second recipient waits for its own transaction, as RFC 5321 §3.3 allows.
        const taker = (kind === 'report' || kind === 'postmaster') && hooks.reportTaker ? hooks.reportTaker(address.address) : undefined;
        // Every report recipient accepted so far shares the first one's taker: comparing with it
        // alone keeps RCPT constant-time (a remote MTA may send up to smtp.max_recipients).
        const first = session.envelope.rcptTo[0];
        if (taker !== undefined && first && (hooks.reportTaker!(first.address) ?? taker) !== taker) return cb(REPLIES.otherTaker());
        if (client.anonymous) {
          if (kind === 'report' || kind === 'postmaster') return cb();
          if (kind === 'unknown') return cb(REPLIES.unknownRecipient());
          log.warn({ smtp: l.name, client: session.remoteAddress, to: address.address }, 'smtp: relay access denied');
          return cb(REPLIES.relayDenied());
        }
        const refused = refusedSenders.get(session.id);
        if (refused && kind !== 'report' && kind !== 'postmaster') return cb(refused);
        cb();
      },
      onData(stream, session, cb) {
        const client = sessionClient(session, l);
        const started = Date.now();
        if (!client) {
          stream.resume();
          stream.once('end', () => cb(REPLIES.authRequired()));
          return;
        }
        inData++;
        const base = {
          smtp: l.name,
          client: client.name,
          ip: session.remoteAddress,
          from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
          rcpts: session.envelope.rcptTo.length,
        };
        receiveData({ stream, session, client, spool, hooks, limits: options.limits, log, pool: l.pool })
          .then((r) => {
            if (r.consumed) {
              log.info({ ...base, queueId: r.queueId, size: r.size, reason: r.verdict.reason, ms: Date.now() - started }, 'smtp: report received');
              return cb(null, r.reply ?? '2.0.0 Ok: report received');
            }
            log.info({ ...base, queueId: r.queueId, size: r.size, verdict: r.verdict.action, reason: r.verdict.reason, ms: Date.now() - started }, 'smtp: message queued');
            cb(null, `2.0.0 Ok: queued as ${r.queueId}`);
          })
          .catch((err: Error & { responseCode?: number; queueId?: string; verdict?: { action: string; reason: string } }) => {
            log.info(
              { ...base, queueId: err.queueId, verdict: err.verdict?.action ?? 'error', reason: err.verdict?.reason, code: err.responseCode, reply: err.message, ms: Date.now() - started },
              'smtp: message refused',
            );
            cb(err);
          })
          .finally(() => {
            inData--;
          });
      },
    });
    server.on('error', (err) => log.error({ smtp: l.name, err: err.message }, 'smtp: server error'));
    // AUTH is offered only where it may be used: not before STARTTLS to a client that must encrypt first.
    hideAuthWhen(server, (session, secure) => options.authRequiresTls && !secure && !options.insecureAuthAllowed(session.remoteAddress));
    return server;
  };

  return {
    addresses() {
      return servers.map(({ l, server }) => {
        const a = (server as unknown as { server: import('node:net').Server }).server.address();
        return { name: l.name, host: l.host, port: typeof a === 'object' && a ? a.port : l.port };
      });
    },
    async start() {
      for (const l of options.listeners) {
        const server = build(l);
        await new Promise<void>((resolve, reject) => {
          const onErr = (err: Error) => reject(new Error(`cannot listen on ${l.host}:${l.port} (${l.name}): ${err.message}`));
          (server as unknown as { server: import('node:net').Server }).server.once('error', onErr);
          server.listen(l.port, l.host, () => {
            (server as unknown as { server: import('node:net').Server }).server.off('error', onErr);
            resolve();
          });
        });
        servers.push({ l, server });
        log.info({ smtp: l.name, listen: `${l.host}:${this.addresses().at(-1)!.port}` }, 'smtp: listening');
      }
    },
    async stop(timeoutMs = 30_000) {
      stopping = true;
      for (const { server } of servers) (server as unknown as { server: import('node:net').Server }).server.close();
      const deadline = Date.now() + timeoutMs;
      while (inData > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      await Promise.all(servers.map(({ server }) => new Promise<void>((r) => server.close(() => r()))));
      servers.length = 0;
    },
    activeTransactions: () => inData,
    sessions: () => sessionCount,
  };
}
