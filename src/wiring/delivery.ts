/**
 * Builds delivery from the configuration: options, the provider catalogue of
 * config/providers.yaml, and the observer that turns attempt outcomes into stats and metrics
 * (the Listmonk bounce feedback subscribes through `extraObservers`).
 */
import { readFileSync } from 'node:fs';
import type { Logger } from 'pino';
import { queueDsn } from '../../relay/bounce/enqueue.js';
import { createDelivery, type Delivery, type DeliveryObserver, type DeliveryOptions, type ReplyClassifier } from '../../relay/delivery/index.js';
import type { ReplyClass } from '../../relay/delivery/reply-class.js';
import { pendingRecipients, type Envelope } from '../../relay/spool/envelope.js';
import { domainOf } from '../util/domain.js';
import type { Spool } from '../../relay/spool/spool.js';
import type { RelaisConfig } from '../config/config.js';
import type { Metrics } from '../metrics.js';
import type { Classifier, Phase as StatsPhase } from '../stats/classify.js';
import type { ProviderCatalog } from '../../config/providers.js';
import type { StatsRecorder } from '../stats/recorder.js';

/** Stats reasons as reply classes, until config/classification.yaml yields ReplyClass itself. */
const INTERIM_CLASS: Record<string, Pick<ReplyClass, 'category' | 'scope'>> = {
  invalid_recipient: { category: 'invalid_recipient', scope: 'recipient' },
  mailbox_full: { category: 'mailbox_full', scope: 'recipient' },
  blocklisted_ip: { category: 'blocklisted_ip', scope: 'provider' },
  authentication: { category: 'authentication', scope: 'provider' },
  rate_limited: { category: 'rate_limited', scope: 'provider' },
  policy: { category: 'policy', scope: 'message' },
  tls: { category: 'tls', scope: 'provider' },
  dns: { category: 'dns', scope: 'recipient' },
  connection: { category: 'connection', scope: 'provider' },
};

/**
 * The reply classifier delivery's shaper is fed from (relay/delivery/shaping-feedback.ts).
 * INTERIM: built over the stats classifier; replace with the one ReplyClass classifier of
 * config/classification.yaml when it lands (issue 21), keeping this signature.
 */
export function replyClassifier(classifier: Classifier): ReplyClassifier {
  return ({ reply, phase, provider }) => {
    const c = classifier.classify({ code: reply.code, enhanced: reply.enhanced, text: reply.text, phase: PHASES[phase] ?? 'connect' });
    // Stats' spam_block mixes content judged spam (5xx) with reputation throttles (4xx).
    const mapped = c.reason === 'spam_block'
      ? reply.code < 500 ? { category: 'reputation_block' as const, scope: 'provider' as const } : { category: 'spam_content' as const, scope: 'message' as const }
      : INTERIM_CLASS[c.reason] ?? { category: 'other' as const, scope: 'recipient' as const };
    const url = /https?:\/\/[^\s<>"')\]]+/.exec(reply.text)?.[0];
    return {
      ...mapped,
      permanent: reply.code >= 500,
      provider,
      ...(c.ruleId ? { rule: c.ruleId } : {}),
      ...(mapped.category === 'blocklisted_ip' && url
        ? { fix: { fr: `Demandez le retrait de l'adresse IP d'envoi : ${url}`, en: `Request the removal of the sending IP: ${url}` } }
        : {}),
    };
  };
}

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

const PHASES: Record<string, StatsPhase> = { dns: 'dns', policy: 'connect', connect: 'connect', greeting: 'connect', tls: 'tls', auth: 'connect', mail: 'mail', rcpt: 'rcpt', data: 'data', local: 'connect' };

/** Delivery outcomes → classification → stats buckets and Prometheus counters. */
export function statsObserver(deps: { providers: ProviderCatalog; classifier: Classifier; recorder: StatsRecorder; metrics: Metrics }): DeliveryObserver {
  return {
    onAttempt(e) {
      const c = deps.classifier.classify({ code: e.reply.code, enhanced: e.reply.enhanced, text: e.reply.text, phase: PHASES[e.phase] ?? 'connect', expired: e.outcome === 'bounced' && e.reply.code < 500 });
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
        bounceKind: c.bounceKind,
        reason: c.reason,
        reply: e.reply,
        count: e.recipients.length,
        latencyMs: e.outcome === 'delivered' ? Date.now() - e.env.receivedAt : undefined,
      });
      deps.metrics.deliveries.inc({ outcome: e.outcome, provider }, e.recipients.length);
      if (e.outcome === 'delivered') deps.metrics.deliveryLatency.observe((Date.now() - e.env.receivedAt) / 1000);
    },
  };
}

export function combineObservers(list: DeliveryObserver[]): DeliveryObserver {
  return {
    onAttempt: (e) => list.forEach((o) => o.onAttempt?.(e)),
    onDelivered: (e) => list.forEach((o) => o.onDelivered?.(e)),
    onFinalBounce: (e) => list.forEach((o) => o.onFinalBounce?.(e)),
    onShaping: (e) => list.forEach((o) => o.onShaping?.(e)),
  };
}

export function buildDelivery(deps: { config: RelaisConfig; spool: Spool; log: Logger; providers: ProviderCatalog; observer: DeliveryObserver; classifier: Classifier }): Delivery {
  return createDelivery({
    spool: deps.spool,
    log: deps.log, // createDelivery adds component: delivery itself
    options: deliveryOptions(deps.config),
    providers: deps.providers,
    observer: deps.observer,
    classify: replyClassifier(deps.classifier),
  });
}

/** Bounce for the admin "delete with bounce": a DSN for every recipient still pending. */
export function adminBounce(spool: Spool, hostname: string) {
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
