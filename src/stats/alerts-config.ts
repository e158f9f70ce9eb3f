/**
 * The `alerts:` section of the Relais config, validated with defaults. Every alert may be set to
 * `false` to disable it; unknown keys are errors naming the key.
 *
 *   alerts:
 *     interval: 1m              # periodic evaluation
 *     bounce_rate:    { threshold: 0.05, min_messages: 20, window: 1h, per: sender }
 *     deferral_rate:  { threshold: 0.30, min_messages: 50, window: 1h, per: provider }
 *     spam_block:     { min_count: 1, window: 1h, per: provider }       # spam_content, reputation_block and blocklisted_ip replies
 *     auth_failure:   { min_count: 3, window: 1h, per: sender_domain }  # SPF/DKIM/DMARC/PTR replies
 *     policy_rejects: { min_count: 20, window: 1h, per: sender }        # our own policy verdicts "reject"
 */
import { duration, inFile, mapping, num, oneOf, onlyKeys, posInt } from '../../config/validate.js';

export const ALERT_TYPES = ['bounce_rate', 'deferral_rate', 'spam_block', 'auth_failure', 'policy_rejects'] as const;
export type AlertType = (typeof ALERT_TYPES)[number];
export const ALERT_PER = ['sender', 'sender_domain', 'tenant', 'provider', 'domain'] as const;
export type AlertPer = (typeof ALERT_PER)[number];

export interface AlertRule {
  type: AlertType;
  /** Rate alerts: fraction 0..1. */
  threshold: number;
  /** Rate alerts: attempts needed before a rate means anything. */
  minMessages: number;
  /** Count alerts: occurrences needed in the window. */
  minCount: number;
  windowMs: number;
  per: AlertPer;
}

export interface AlertsConfig {
  intervalMs: number;
  rules: AlertRule[];
}

const DEFAULTS: Record<AlertType, { threshold?: number; min_messages?: number; min_count?: number; window: string; per: AlertPer }> = {
  bounce_rate: { threshold: 0.05, min_messages: 20, window: '1h', per: 'sender' },
  deferral_rate: { threshold: 0.3, min_messages: 50, window: '1h', per: 'provider' },
  spam_block: { min_count: 1, window: '1h', per: 'provider' },
  auth_failure: { min_count: 3, window: '1h', per: 'sender_domain' },
  policy_rejects: { min_count: 20, window: '1h', per: 'sender' },
};

/** Keys of `alerts:` validated by other parts (src/dmarc/alerts.ts). */
export const EXTERNAL_ALERT_KEYS = ['dmarc_alignment', 'dmarc_new_source'] as const;

const RATE_TYPES: readonly AlertType[] = ['bounce_rate', 'deferral_rate'];

export function isRateAlert(t: AlertType): boolean {
  return RATE_TYPES.includes(t);
}

/** Validate the `alerts` section (undefined → all defaults). */
export function parseAlertsConfig(raw: unknown, source = 'relais.yaml'): AlertsConfig {
  return inFile(source, () => alertsOf(raw));
}

function alertsOf(raw: unknown): AlertsConfig {
  const root = raw === undefined || raw === null ? {} : mapping(raw, 'alerts');
  onlyKeys(root, 'alerts', ['interval', ...ALERT_TYPES, ...EXTERNAL_ALERT_KEYS]);
  const intervalMs = root.interval === undefined ? 60_000 : duration(root.interval, 'alerts.interval');
  const rules: AlertRule[] = [];
  for (const type of ALERT_TYPES) {
    const key = `alerts.${type}`;
    const v = root[type];
    if (v === false) continue;
    const o = v === undefined || v === true ? {} : mapping(v, key);
    const rate = isRateAlert(type);
    onlyKeys(o, key, rate ? ['threshold', 'min_messages', 'window', 'per'] : ['min_count', 'window', 'per']);
    const d = DEFAULTS[type];
    rules.push({
      type,
      threshold: rate ? (o.threshold === undefined ? d.threshold! : num(o.threshold, `${key}.threshold`, 0, 1)) : 0,
      minMessages: rate ? (o.min_messages === undefined ? d.min_messages! : posInt(o.min_messages, `${key}.min_messages`)) : 0,
      minCount: rate ? 0 : o.min_count === undefined ? d.min_count! : posInt(o.min_count, `${key}.min_count`),
      windowMs: duration(o.window ?? d.window, `${key}.window`),
      per: o.per === undefined ? d.per : oneOf(o.per, `${key}.per`, ALERT_PER),
    });
  }
  return { intervalMs, rules };
}
