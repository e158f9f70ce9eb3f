/**
 * One delivery attempt: the recipients of one envelope for one destination, in one SMTP
 * transaction, through the throttle and the connection pool. Returns per-recipient results;
 * never throws for delivery failures (only when aborted by stop()).
 */
import { Readable } from 'node:stream';
import type { Connector } from './connector.js';
import type { SessionPool } from './pool.js';
import type { ReplyClassifier } from './classify.js';
import { DeliveryError, errorToFailure } from './reply.js';
import type { Router } from './router.js';
import type { RecipientResult, SmtpSession } from './session.js';
import type { Throttle } from './throttle.js';
import type { Envelope } from '../spool/envelope.js';
import type { ProviderInfo } from './types.js';
import type { Spool } from '../spool/spool.js';

export interface AttemptResult {
  results: RecipientResult[];
  provider: string;
  mx?: string;
  latencyMs: number;
}

export interface AttemptDeps {
  spool: Spool;
  router: Router;
  throttle: Throttle;
  pool: SessionPool;
  connector: Connector;
  classifier: ReplyClassifier;
}

export async function attempt(deps: AttemptDeps, env: Envelope, domain: string, rcpts: string[], signal: AbortSignal): Promise<AttemptResult> {
  const started = Date.now();
  // Every failure is classified here, once: its class decides bounce or retry, the DSN, the
  // Listmonk bounce type, provider shaping (each distinct reply from the provider's hosts is
  // handed to the throttle with its class) and stats.
  const done = (results: RecipientResult[], provider: ProviderInfo, mx: string | undefined, fromProvider: boolean): AttemptResult => {
    const seen = new Set<string>();
    const classified = results.map((r) => {
      if (r.delivered) return r;
      const cls = deps.classifier.classify({ ...r.reply, phase: r.phase, provider: provider.id });
      const k = `${r.reply.code} ${r.reply.enhanced} ${r.reply.text}`;
      if (fromProvider && !seen.has(k)) {
        seen.add(k);
        deps.throttle.onReply(provider, r.reply, cls);
      }
      return { ...r, class: cls };
    });
    return { results: classified, provider: provider.id, mx, latencyMs: Date.now() - started };
  };
  const routing = await deps.router.route(domain);
  if (!routing.ok) {
    const { reply, phase } = routing;
    return done(rcpts.map((address) => ({ address, delivered: false, reply, phase })), routing.provider, undefined, false);
  }
  const { provider, dest } = routing;
  // Sessions are reused only within one outbound identity (IP pool).
  const key = env.pool ? `${routing.key}@${env.pool}` : routing.key;
  const limits = deps.throttle.limits(provider);
  await deps.throttle.pace(provider.id, limits.messagesPerMinute, signal);

  // A cached session the server has meanwhile closed fails without a reply: retry once afresh.
  for (let round = 0; ; round++) {
    const lease = await deps.pool.checkout(key, provider.id, deps.throttle.limits(provider).maxConnections, signal);
    let session: SmtpSession | undefined = lease.session;
    const reused = !!session;
    if (!session) {
      try {
        session = await deps.connector.open(dest, env.pool);
      } catch (err) {
        deps.pool.checkin(lease, undefined, false);
        const f = errorToFailure(err, 'connect');
        const mx = (err as { mx?: string }).mx ?? routing.mx;
        return done(allFailed(rcpts, f), provider, mx, true);
      }
    }
    const results = await session.send({
      from: env.returnPath ?? env.from,
      to: rcpts,
      size: env.size + Buffer.byteLength(env.prependHeaders ?? ''),
      body: messageStream(deps.spool, env),
    });
    const stale = reused && !session.usable && results.every((r) => !r.delivered && r.reply.enhanced === '4.4.2');
    const max = deps.throttle.limits(provider).messagesPerConnection;
    deps.pool.checkin(lease, session, session.messages < max);
    if (stale && round === 0) continue;
    return done(results, provider, session.hostname, true);
  }
}

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
