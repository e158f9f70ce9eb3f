/**
 * Reputation alerts over the stats buckets: bounce/deferral rates, spam blocks and block lists,
 * authentication failures, bursts of policy rejects. Evaluated on demand (evaluate) and
 * periodically (start). "since" is shared by all nodes through the store, and a new alert is
 * logged once across nodes (the node that creates its marker logs it).
 * Windows are rounded out to whole hours: a 1h window reads the previous and the current hour.
 */
import type { Store } from '../store/types.js';
import { ALL_SCOPE, HOUR_MS, scopeOf } from './buckets.js';
import { isRateAlert, type AlertPer, type AlertRule, type AlertsConfig, type AlertType } from './alerts-config.js';
import type { ByDimension, Counters, StatsQueries } from './queries.js';
import type { StatsLogger } from './recorder.js';

/** Alerts raised by other parts than the stats rules: DMARC reports (src/dmarc), block lists (src/dnsbl). */
/** Raised outside this module: DMARC and block-list watches, and `blocklisted_ip` when a provider is suspended for a block list (src/stats/shaping-alerts.ts). */
export type ExternalAlertType = 'dmarc_alignment' | 'dmarc_new_source' | 'dnsbl_listing' | 'dnsbl_delisting' | 'blocklisted_ip';

/** Alerts of another part, evaluated with the stats rules (a failing source is logged, skipped). */
export type AlertSource = (now: number) => Promise<Alert[]>;

export interface Alert {
  /** Stable id: type, subject and (for provider/domain alerts) the tenant scope. */
  id: string;
  type: AlertType | ExternalAlertType;
  severity: 'warning' | 'critical';
  message: { fr: string; en: string };
  /** ISO time the alert was first seen active. */
  since: string;
  subject: { per: AlertPer | 'ip'; id: string };
  tenant?: string;
  /** Rate (0..1) for rate alerts, count otherwise. */
  value: number;
  threshold: number;
  /** What to do about it, when known (e.g. the delisting address quoted in the reply). */
  fix?: { fr: string; en: string };
}

export interface StatsAlertsOptions {
  store: Store;
  queries: StatsQueries;
  config: AlertsConfig;
  log?: StatsLogger;
  sources?: AlertSource[];
}

export interface StatsAlerts {
  /** Evaluate now; with `tenant`, only that tenant's traffic. */
  evaluate(opts?: { tenant?: string; now?: number }): Promise<Alert[]>;
  /** Result of the last periodic (global) evaluation. */
  active(): Alert[];
  /** Alerts that come from elsewhere than the stats (provider suspensions), read at each global evaluation. */
  addSource(fn: () => Promise<Alert[]>): void;
  start(): void;
  stop(): void;
}

const DIM_OF_PER: Record<AlertPer, ByDimension> = {
  sender: 'sender', sender_domain: 'senderDomain', tenant: 'tenant', provider: 'provider', domain: 'domain',
};
const PER_LABEL: Record<AlertPer, { fr: string; en: string }> = {
  sender: { fr: "l'expéditeur", en: 'sender' },
  sender_domain: { fr: 'le domaine expéditeur', en: 'sender domain' },
  tenant: { fr: "l'organisation", en: 'tenant' },
  provider: { fr: 'le fournisseur', en: 'provider' },
  domain: { fr: 'le domaine destinataire', en: 'recipient domain' },
};
const MARKER_TTL_MS = 7 * 86_400_000;

/** 3600000 → "1h", for messages. */
function formatDuration(ms: number): string {
  for (const [u, n] of [['d', 86_400_000], ['h', 3_600_000], ['m', 60_000], ['s', 1000]] as const) {
    if (ms >= n && ms % n === 0) return `${ms / n}${u}`;
  }
  return `${ms}ms`;
}

const pct = (x: number): string => `${String(Math.round(x * 1000) / 10).replace('.', ',')} %`;
const pctEn = (x: number): string => `${Math.round(x * 1000) / 10}%`;

function reasonCount(c: Counters, reasons: string[]): number {
  let n = 0;
  for (const r of reasons) n += (c.reasons[`bounced:${r}`] ?? 0) + (c.reasons[`deferred:${r}`] ?? 0);
  return n;
}

interface Candidate {
  severity: Alert['severity'];
  value: number;
  message: { fr: string; en: string };
}

/** Decide whether one subject triggers one rule. */
function check(rule: AlertRule, subject: string, c: Counters): Candidate | null {
  const who = PER_LABEL[rule.per];
  const w = formatDuration(rule.windowMs);
  const sent = c.delivered + c.deferred + c.bounced;
  switch (rule.type) {
    case 'bounce_rate':
    case 'deferral_rate': {
      if (sent < rule.minMessages) return null;
      const value = (rule.type === 'bounce_rate' ? c.bounced : c.deferred) / sent;
      if (value <= rule.threshold) return null;
      const [fr, en] = rule.type === 'bounce_rate' ? ['Taux de rebond', 'Bounce rate'] : ['Taux de report', 'Deferral rate'];
      return {
        severity: value >= 2 * rule.threshold ? 'critical' : 'warning',
        value,
        message: {
          fr: `${fr} de ${pct(value)} pour ${who.fr} ${subject} (${sent} envois sur ${w}, seuil ${pct(rule.threshold)})`,
          en: `${en} ${pctEn(value)} for ${who.en} ${subject} (${sent} attempts over ${w}, threshold ${pctEn(rule.threshold)})`,
        },
      };
    }
    case 'spam_block': {
      const listed = reasonCount(c, ['blocklisted_ip']);
      const spam = reasonCount(c, ['spam_content', 'reputation_block']);
      const value = listed + spam;
      if (value < rule.minCount) return null;
      return {
        severity: listed > 0 ? 'critical' : 'warning',
        value,
        message: listed > 0
          ? {
            fr: `Adresse IP d'envoi sur liste de blocage : ${value} refus pour spam ou blocage (${who.fr} ${subject}, ${w})`,
            en: `Sending IP block-listed: ${value} spam/block-list refusals (${who.en} ${subject}, ${w})`,
          }
          : {
            fr: `Courrier refusé comme spam ou pour mauvaise réputation : ${value} refus (${who.fr} ${subject}, ${w})`,
            en: `Mail refused as spam or for bad reputation: ${value} refusals (${who.en} ${subject}, ${w})`,
          },
      };
    }
    case 'auth_failure': {
      const value = reasonCount(c, ['authentication']);
      if (value < rule.minCount) return null;
      return {
        severity: 'warning',
        value,
        message: {
          fr: `Échecs d'authentification (SPF/DKIM/DMARC/PTR) : ${value} refus pour ${who.fr} ${subject} (${w})`,
          en: `Authentication failures (SPF/DKIM/DMARC/PTR): ${value} refusals for ${who.en} ${subject} (${w})`,
        },
      };
    }
    case 'policy_rejects': {
      const value = c.verdicts.reject ?? 0;
      if (value < rule.minCount) return null;
      return {
        severity: 'warning',
        value,
        message: {
          fr: `${value} messages refusés par les règles d'envoi pour ${who.fr} ${subject} en ${w} (compte compromis ?)`,
          en: `${value} messages rejected by sending policy for ${who.en} ${subject} in ${w} (compromised account?)`,
        },
      };
    }
  }
}

export function createStatsAlerts(opts: StatsAlertsOptions): StatsAlerts {
  const { store, queries, config, log } = opts;
  /** Ids active at the previous evaluation, per evaluation scope: to clear their markers. */
  const previous = new Map<string, Set<string>>();
  let last: Alert[] = [];
  let timer: NodeJS.Timeout | null = null;
  const sources: Array<() => Promise<Alert[]>> = [];

  const evaluate = async ({ tenant, now = Date.now() }: { tenant?: string; now?: number } = {}): Promise<Alert[]> => {
    const scope = scopeOf(tenant);
    const alerts: Alert[] = [];
    for (const rule of config.rules) {
      const counters = await queries.aggregate(DIM_OF_PER[rule.per], {
        from: now - rule.windowMs,
        to: Math.floor(now / HOUR_MS) * HOUR_MS + HOUR_MS,
        tenant,
        granularity: 'hour',
      });
      for (const [subject, c] of counters) {
        const hit = check(rule, subject, c);
        if (!hit) continue;
        // Senders and sender domains belong to one tenant: same id whatever the scope.
        const scoped = rule.per === 'provider' || rule.per === 'domain';
        const id = `${rule.type}:${rule.per}:${scoped && scope !== ALL_SCOPE ? `${scope}/` : ''}${subject}`;
        const existing = await store.setIfAbsent(`stats:alert:${id}`, String(now), MARKER_TTL_MS);
        if (existing === null) log?.warn({ alert: { id, severity: hit.severity, value: hit.value } }, `stats alert: ${hit.message.en}`);
        alerts.push({
          id,
          type: rule.type,
          severity: hit.severity,
          message: hit.message,
          since: new Date(existing === null ? now : Number(existing)).toISOString(),
          subject: { per: rule.per, id: subject },
          ...(tenant !== undefined ? { tenant } : {}),
          value: hit.value,
          threshold: isRateAlert(rule.type) ? rule.threshold : rule.minCount,
        });
      }
    }
    for (const source of opts.sources ?? []) {
      const more = await source(now).catch((err: unknown) => {
        log?.warn({ err: String(err) }, 'alerts: a source failed');
        return [];
      });
      alerts.push(...more.filter((a) => tenant === undefined || a.tenant === tenant));
    }
    const ids = new Set(alerts.map((a) => a.id));
    for (const id of previous.get(scope) ?? []) {
      if (ids.has(id)) continue;
      await store.deleteValue(`stats:alert:${id}`);
      log?.info?.({ alert: { id } }, 'stats alert cleared');
    }
    previous.set(scope, ids);
    if (tenant === undefined) for (const source of sources) alerts.push(...(await source()));
    alerts.sort((a, b) => (a.severity === b.severity ? a.id.localeCompare(b.id) : a.severity === 'critical' ? -1 : 1));
    return alerts;
  };

  return {
    evaluate,
    active: () => last,
    addSource: (fn) => void sources.push(fn),
    start() {
      if (timer) return;
      const tick = (): void => {
        evaluate().then(
          (a) => { last = a; },
          (err: unknown) => log?.warn({ err: String(err) }, 'stats alerts: evaluation failed'),
        );
      };
      tick();
      timer = setInterval(tick, config.intervalMs);
      timer.unref();
    },
    stop() {
      if (timer) clearInterval(timer);
      timer = null;
    },
  };
}
