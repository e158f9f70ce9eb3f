/**
 * Builds delivery from the configuration: options, the provider catalogue of
 * config/providers.yaml, and the observer that turns attempt outcomes into stats and metrics
 * (the Listmonk bounce feedback subscribes through `extraObservers`).
 */
import { readFileSync } from 'node:fs';
import type { Logger } from 'pino';
import { queueDsn } from '../../relay/bounce/enqueue.js';
import { createDelivery, type Delivery, type DeliveryObserver, type DeliveryOptions } from '../../relay/delivery/index.js';
import { pendingRecipients, type Envelope } from '../../relay/spool/envelope.js';
import { domainOf } from '../util/domain.js';
import type { Spool, SpoolApi } from '../../relay/spool/spool.js';
import type { RelaisConfig } from '../config/config.js';
import type { Metrics } from '../metrics.js';
import type { ProviderCatalog } from '../../config/providers.js';
import type { ReplyClassifier } from '../../relay/delivery/classify.js';
import type { StatsRecorder } from '../stats/recorder.js';

export function deliveryOptions(config: RelaisConfig): DeliveryOptions {
  const d = config.delivery;
  return {
    hostname: config.hostname,
    ehloName: d.ehlo_name ?? config.hostname,
    localAddresses: d.local_addresses.map((address) => ({ address })),
    pools: Object.fromEntries(
      Object.entries(d.pools).map(([name, p]) => [
        name,
        {
          ehloName: p.ehlo_name,
          localAddresses: p.local_addresses.map((address) => ({ address })),
          ...(p.warmup ? { warmup: { startDay: Date.parse(`${p.warmup.start}T00:00:00Z`), initial: p.warmup.initial, growth: p.warmup.growth, max: p.warmup.max, providers: p.warmup.providers } } : {}),
        },
      ]),
    ),
    dnsServers: config.dns.servers,
    allowPrivateMx: d.allow_private_mx,
    port: d.mx_port,
    smarthost: d.smarthost
      ? {
          host: d.smarthost.host,
          port: d.smarthost.port,
          tls: d.smarthost_tls,
          auth: d.smarthost_user ? { user: d.smarthost_user, pass: d.smarthost_password ?? '' } : undefined,
          // starttls and implicit verify the certificate (delivery's default), opportunistic does not.
        }
      : undefined,
    caCerts: d.smarthost_ca_file ? [readFileSync(d.smarthost_ca_file, 'utf8')] : [],
    tlsRequiredDomains: d.tls_required_domains,
    maxConnections: d.max_connections,
    connectTimeoutMs: d.connect_timeout_ms,
    retryFirstMs: config.queue.retry_first_ms,
    retryMaxMs: config.queue.retry_max_ms,
    lifetimeMs: config.queue.lifetime_ms,
    delayWarningMs: config.queue.delay_warning_ms,
  };
}

/** Delivery outcomes (with the class delivery gave each failure) → stats buckets and Prometheus counters. */
export function statsObserver(deps: { providers: ProviderCatalog; recorder: StatsRecorder; metrics: Metrics }): DeliveryObserver {
  return {
    onAttempt(e) {
      // Not e.provider: through a smarthost that is "smarthost"; stats want the recipient's provider.
      const provider = deps.providers.providerForDomain(e.domain, e.mx).id;
      const sender = (e.env.headerFrom ?? e.env.from ?? '').toLowerCase();
      deps.recorder.recordAttempt({
        at: Date.now(),
        tenant: e.env.tenant,
        senderDomain: domainOf(sender) || 'unknown',
        sender: sender || '<>',
        provider,
        recipientDomain: e.domain,
        mx: e.mx,
        outcome: e.outcome,
        ...(e.outcome === 'bounced' ? { bounceKind: e.class?.permanent ? 'hard' : 'soft' } : {}),
        reason: e.class?.category ?? 'none',
        reply: e.reply,
        count: e.recipients.length,
        latencyMs: e.outcome === 'delivered' ? Date.now() - e.env.receivedAt : undefined,
      });
      deps.metrics.deliveries.inc({ outcome: e.outcome, provider }, e.recipients.length);
      if (e.outcome === 'delivered') deps.metrics.deliveryLatency.observe((Date.now() - e.env.receivedAt) / 1000);
    },
  };
}

/** One observer calling each of `list`; only the events one of them observes are defined (the
 * delivery thread forwards those alone). */
export function combineObservers(list: DeliveryObserver[]): DeliveryObserver {
  const combined: DeliveryObserver = {};
  const keys = ['onAttempt', 'onDelivered', 'onFinalBounce', 'onShaping'] as const;
  for (const k of keys) {
    const fns = list.map((o) => o[k]?.bind(o)).filter((f): f is NonNullable<typeof f> => !!f);
    if (fns.length) combined[k] = ((e: never) => fns.forEach((f) => (f as (x: never) => void)(e))) as never;
  }
  return combined;
}

export function buildDelivery(deps: { config: RelaisConfig; spool: Spool; log: Logger; providers: ProviderCatalog; classifier: ReplyClassifier; observer: DeliveryObserver }): Delivery {
  return createDelivery({
    spool: deps.spool,
    log: deps.log, // createDelivery adds component: delivery itself
    options: deliveryOptions(deps.config),
    providers: deps.providers,
    classifier: deps.classifier,
    observer: deps.observer,
  });
}

/** Bounce for the admin "delete with bounce": a DSN for every recipient still pending. */
export function adminBounce(spool: SpoolApi, hostname: string) {
  return async (env: Envelope, reason: string): Promise<void> => {
    await queueDsn({
      spool,
      env,
      action: 'failed',
      hostname,
      recipients: pendingRecipients(env).map((r) => ({ address: r.address, status: '5.0.0', reply: { code: 550, enhanced: '5.0.0', text: reason }, lastAttemptAt: Date.now() })),
    });
  };
}
