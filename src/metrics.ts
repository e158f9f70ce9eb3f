/**
 * Prometheus metrics (prom-client), one registry per relay. Gauges are collected on scrape from
 * the live objects (queue sizes, sessions), counters are bumped by the flow's observers.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export interface MetricsSources {
  queueCounts(): Record<string, number>;
  smtpSessions(): number;
  smtpTransactions(): number;
}

export class Metrics {
  readonly registry = new Registry();
  readonly verdicts = new Counter({ name: 'relais_verdicts_total', help: 'Policy verdicts at end of DATA', labelNames: ['action', 'reason'], registers: [this.registry] });
  readonly deliveries = new Counter({ name: 'relais_deliveries_total', help: 'Delivery attempt outcomes per recipient', labelNames: ['outcome', 'provider'], registers: [this.registry] });
  readonly deliveryLatency = new Histogram({
    name: 'relais_delivery_latency_seconds',
    help: 'Time from acceptance to successful delivery',
    buckets: [0.1, 0.5, 1, 5, 15, 60, 300, 900, 3600, 14400, 86400],
    registers: [this.registry],
  });
  readonly auth = new Counter({ name: 'relais_smtp_auth_total', help: 'SMTP AUTH outcomes (ok, failed, address_blocked, user_locked, connection_closed, unverified, tls_required)', labelNames: ['result'], registers: [this.registry] });
  readonly accepted = new Counter({ name: 'relais_messages_accepted_total', help: 'Messages accepted into the spool', registers: [this.registry] });
  readonly reports = new Counter({ name: 'relais_reports_total', help: 'Inbound DMARC/TLS reports by outcome (stored, duplicate, not_tenant, too_large, doctype, malformed…)', labelNames: ['kind', 'outcome'], registers: [this.registry] });

  constructor(sources: MetricsSources) {
    collectDefaultMetrics({ register: this.registry, prefix: 'relais_process_' });
    new Gauge({
      name: 'relais_queue_messages',
      help: 'Queued messages by state',
      labelNames: ['state'],
      registers: [this.registry],
      collect() {
        for (const [state, n] of Object.entries(sources.queueCounts())) this.set({ state }, n);
      },
    });
    new Gauge({
      name: 'relais_smtp_sessions',
      help: 'Open SMTP sessions',
      registers: [this.registry],
      collect() {
        this.set(sources.smtpSessions());
      },
    });
    new Gauge({
      name: 'relais_smtp_transactions_in_data',
      help: 'SMTP transactions currently receiving DATA',
      registers: [this.registry],
      collect() {
        this.set(sources.smtpTransactions());
      },
    });
  }
}
