/**
 * Entry point of the delivery half: wires routing, MTA-STS, the shaper (reply-driven
 * restrictions, warm-up, priorities), the connection pool and the queue runner over the spool.
 */
import type { Logger } from 'pino';
import { loadReplyClassifier } from '../../config/classification.js';
import { defaultProviderCatalog } from '../../config/providers.js';
import type { ReplyClassifier } from './classify.js';
import type { Spool } from '../spool/spool.js';
import { Connector } from './connector.js';
import { createDns } from './dns.js';
import { MtaSts } from './mta-sts.js';
import { resolveOptions } from './options.js';
import { SessionPool } from './pool.js';
import { Router } from './router.js';
import { runEnvelope, type RunDeps } from './run-envelope.js';
import { Scheduler } from './scheduler.js';
import { Shaper, type RestrictionView, type WarmupView } from './shaper.js';
import type { DeliveryObserver, DeliveryOptions, ProviderCatalog } from './types.js';

export interface CreateDeliveryInput {
  spool: Spool;
  log: Logger;
  options?: DeliveryOptions;
  providers?: ProviderCatalog;
  /** Reply classifier (config/classification.yaml); default: the bundled rules. */
  classifier?: ReplyClassifier;
  observer?: DeliveryObserver;
}

export interface DeliveryStats {
  inFlight: number;
  ready: number;
  waiting: number;
  connections: { total: number; idle: number; perProvider: Record<string, number> };
  /** Envelopes waiting in memory for a provider budget (suspension, warm-up, rate). */
  parked: number;
  /** Recipient outcomes since start. */
  delivered: number;
  deferred: number;
  bounced: number;
}

export interface Delivery {
  start(): void;
  /** No new deliveries; in-flight ones get `timeoutMs` (default 30 s) to finish; the rest stays queued. */
  stop(opts?: { timeoutMs?: number }): Promise<void>;
  /** Makes a queued message due now (pacing `notBefore` still applies; hold stays hold); false when unknown. */
  retryNow(id: string): Promise<boolean>;
  stats(): DeliveryStats;
  /** Restrictions in force and warm-up budgets of this node. */
  shaping(): { restrictions: RestrictionView[]; warmups: WarmupView[] };
  /** Lifts a provider's restrictions (one pool, or all); returns how many were lifted. */
  clearShaping(provider: string, pool?: string): number;
  /** The next attempt of this message is an admin's retry: it may go to a suspended provider as a probe. */
  operatorRetry(id: string): void;
}


export function createDelivery(input: CreateDeliveryInput): Delivery {
  const opts = resolveOptions(input.options);
  const log = input.log.child({ component: 'delivery' });
  const providers = input.providers ?? defaultProviderCatalog();
  const dns = createDns(opts.dnsServers, opts.dnsTimeoutMs, opts.dnsTries);
  const sts = opts.mtaSts && !opts.smarthost ? new MtaSts({ dns, log, port: opts.mtaStsPort, ca: opts.caCerts }) : null;
  const shaper = new Shaper({
    defaults: providers.automation.defaults,
    providers: providers.automation.providers,
    warmup: Object.fromEntries(Object.entries(opts.pools).flatMap(([name, p]) => (p.warmup ? [[name, p.warmup]] : []))),
  });
  const observer = input.observer ?? {};
  shaper.onEvent((e) => {
    if (e.type === 'restricted') log.warn({ shaping: e.restriction }, `shaping: ${e.restriction.provider} ${e.restriction.mode} for pool ${e.restriction.pool} after ${e.restriction.category}`);
    else log.info({ shaping: e }, `shaping: ${e.type}`);
    try {
      observer.onShaping?.(e);
    } catch (err) {
      log.error({ err }, 'delivery observer threw');
    }
  });
  const pool = new SessionPool(opts.maxConnections, opts.idleTimeoutMs);
  const deps: RunDeps = {
    spool: input.spool,
    router: new Router(opts, dns, providers, sts, log),
    shaper,
    operatorRetries: new Set(),
    pool,
    connector: new Connector(opts, dns),
    classifier: input.classifier ?? loadReplyClassifier(),
    opts,
    observer,
    log,
    counters: { delivered: 0, deferred: 0, bounced: 0 },
  };
  const scheduler = new Scheduler(input.spool, (env, signal) => runEnvelope(deps, env, signal), opts, log, shaper);

  return {
    start: () => scheduler.start(),
    async stop(o) {
      await scheduler.stop(o?.timeoutMs ?? 30_000);
      pool.closeIdle();
      log.info('delivery: stopped');
    },
    async retryNow(id) {
      const env = input.spool.get(id);
      if (!env) return false;
      if (scheduler.isInFlight(id)) return true;
      env.nextAttemptAt = Date.now();
      await input.spool.update(env, env.state === 'hold' ? 'hold' : 'active');
      return true;
    },
    stats: () => ({
      ...scheduler.stats(),
      connections: pool.stats(),
      ...deps.counters,
    }),
    shaping: () => ({ restrictions: shaper.list(Date.now()), warmups: shaper.warmups(Date.now()) }),
    clearShaping: (provider, pool) => shaper.clear(provider, pool),
    operatorRetry(id) {
      // Bounded: ids of messages that were never attempted again are dropped oldest first.
      if (deps.operatorRetries.size >= 1000) deps.operatorRetries.delete(deps.operatorRetries.values().next().value!);
      deps.operatorRetries.add(id);
    },
  };
}
