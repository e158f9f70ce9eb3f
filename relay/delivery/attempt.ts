/**
 * One delivery attempt: the recipients of one envelope for one destination, in one SMTP
 * transaction, through the shaper and the connection pool. Returns per-recipient results, or
 * `parked` when the provider has no budget for it now (nothing was sent, nothing changes in the
 * envelope); never throws for delivery failures (only when aborted by stop()).
 */
import { Readable } from 'node:stream';
import { setTimeout as sleepFor } from 'node:timers/promises';
import type { Connector } from './connector.js';
import type { SessionPool } from './pool.js';
import { DeliveryError, errorToFailure } from './reply.js';
import type { Router } from './router.js';
import type { RecipientResult, SmtpSession } from './session.js';
import { priorityOf, type Shaper } from './shaper.js';
import { feedShaper } from './shaping-feedback.js';
import { OTHER_PROVIDER_ID } from '../../config/providers.js';
import type { ReplyClassifier } from './classify.js';
import type { ProviderInfo } from './types.js';
import type { Envelope } from '../spool/envelope.js';
import type { Spool } from '../spool/spool.js';

export interface AttemptResult {
  results: RecipientResult[];
  provider: string;
  mx?: string;
  latencyMs: number;
}

/** Not attempted: the provider's budget for this pool is spent until `retryAt` (or a slot frees). */
export interface Parked {
  parked: { key: string; retryAt: number; reason: string };
}

export interface AttemptDeps {
  spool: Spool;
  router: Router;
  shaper: Shaper;
  classifier: ReplyClassifier;
  /** Messages whose next attempt an admin asked for (see Delivery.operatorRetry). */
  operatorRetries: Set<string>;
  pool: SessionPool;
  connector: Connector;
}

export async function attempt(deps: AttemptDeps, env: Envelope, domain: string, rcpts: string[], signal: AbortSignal): Promise<AttemptResult | Parked> {
  const started = Date.now();
  // Every failure is classified here, once: its class decides bounce or retry, the DSN, the
  // Listmonk bounce type, the shaper's reaction (replies from the provider's hosts) and stats.
  // `shaped` is the provider as the shaper keys it (`other:<mx>` for unclaimed destinations);
  // the classifier gets the catalogue id.
  const done = (results: RecipientResult[], provider: ProviderInfo, mx: string | undefined, shaped?: ProviderInfo): AttemptResult => {
    const classified = results.map((r) => (r.delivered ? r : { ...r, class: deps.classifier.classify({ ...r.reply, phase: r.phase, provider: provider.id }) }));
    if (shaped) feedShaper(deps.shaper, env, shaped, mx, classified, started);
    return { results: classified, provider: provider.id, mx, latencyMs: Date.now() - started };
  };
  const routing = await deps.router.route(domain);
  if (!routing.ok) {
    const { reply, phase } = routing;
    return done(rcpts.map((address) => ({ address, delivered: false, reply, phase })), routing.provider, undefined);
  }
  const { provider, dest } = routing;
  // Destinations no provider claims share the id `other`: each MX host is shaped on its own, so
  // one domain's MX (anyone's) complaining slows no other domain.
  const shaped = provider.id === OTHER_PROVIDER_ID ? { ...provider, id: `${OTHER_PROVIDER_ID}:${routing.mx.toLowerCase()}` } : provider;
  // Sessions are reused only within one outbound identity (IP pool).
  const key = env.pool ? `${routing.key}@${env.pool}` : routing.key;
  const admission = deps.shaper.admit(env.pool, shaped, priorityOf(env), rcpts.length, Date.now(), deps.operatorRetries.has(env.id));
  if (!admission.ok) return { parked: { key: admission.key, retryAt: admission.retryAt, reason: admission.reason } };
  try {
    if (admission.waitMs > 0) await sleep(admission.waitMs, signal);
    // A cached session the server has meanwhile closed fails without a reply: retry once afresh.
    for (let round = 0; ; round++) {
      // Connections are counted per pool and provider: restrictions are per outbound identity.
      const lease = await deps.pool.checkout(key, admission.key, deps.shaper.limits(env.pool, shaped, Date.now()).maxConnections, signal);
      let session: SmtpSession | undefined = lease.session;
      const reused = !!session;
      if (!session) {
        try {
          session = await deps.connector.open(dest, env.pool);
        } catch (err) {
          deps.pool.checkin(lease, undefined, false);
          const f = errorToFailure(err, 'connect');
          const mx = (err as { mx?: string }).mx ?? routing.mx;
          return done(allFailed(rcpts, f), provider, mx, shaped);
        }
      }
      const results = await session.send({
        from: env.returnPath ?? env.from,
        to: rcpts,
        size: env.size + Buffer.byteLength(env.prependHeaders ?? ''),
        body: messageStream(deps.spool, env),
      });
      const stale = reused && !session.usable && results.every((r) => !r.delivered && r.reply.enhanced === '4.4.2');
      const max = deps.shaper.limits(env.pool, shaped, Date.now()).messagesPerConnection;
      deps.pool.checkin(lease, session, session.messages < max);
      if (stale && round === 0) continue;
      return done(results, provider, session.hostname, shaped);
    }
  } finally {
    deps.shaper.release(admission.key);
  }
}

const sleep = (ms: number, signal: AbortSignal) => sleepFor(ms, undefined, { signal });

function allFailed(rcpts: string[], f: DeliveryError): RecipientResult[] {
  return rcpts.map((address) => ({ address, delivered: false, reply: f.reply, phase: f.phase }));
}

/** DKIM-Signature lines, then the stored message: from the body cache, else streamed from disk. */
function messageStream(spool: Spool, env: Envelope): Readable | Buffer {
  const prepend = env.prependHeaders;
  const cached = spool.cachedBody(env.id);
  if (cached) return prepend ? Buffer.concat([Buffer.from(prepend), cached]) : cached;
  if (!prepend) return spool.openBody(env.id);
  return Readable.from(
    (async function* () {
      yield Buffer.from(prepend);
      yield* spool.openBody(env.id);
    })(),
  );
}
