/**
 * Alerts from the DMARC reports, evaluated with the stats alerts (again when this node stored a
 * report, else at most every 10 minutes: reports arrive daily):
 *  - dmarc_alignment: the aligned share of Relais's own mail for a domain, over `window`,
 *    is under `threshold` (with at least `min_messages` reported);
 *  - dmarc_new_source: a source that is not Relais, never reported before for a domain that
 *    has earlier reports, sent more than `min_messages` in its first day (in the last 3 days).
 *
 *   alerts:
 *     dmarc_alignment: { threshold: 0.98, min_messages: 50, window: 7d }
 *     dmarc_new_source: { min_messages: 100 }
 */
import { duration, fail, inFile, mapping, num, onlyKeys, posInt } from '../../config/validate.js';
import type { Alert, AlertSource } from '../stats/alerts.js';
import { DAY_MS, dayOf, isoDay } from './keys.js';
import type { DmarcQueries } from './queries.js';

export interface DmarcAlertsConfig {
  alignment: { threshold: number; minMessages: number; windowDays: number } | null;
  newSource: { minMessages: number } | null;
}

const HISTORY_DAYS = 30;
const NEW_DAYS = 3;
const EVERY_MS = 10 * 60_000;

export function parseDmarcAlertsConfig(raw: unknown, source = 'relais.yaml'): DmarcAlertsConfig {
  return inFile(source, () => dmarcAlertsOf(raw));
}

function dmarcAlertsOf(raw: unknown): DmarcAlertsConfig {
  const root = raw === undefined || raw === null ? {} : mapping(raw, 'alerts');
  const a = root.dmarc_alignment;
  const n = root.dmarc_new_source;
  const ao = a === false ? null : a === undefined || a === true ? {} : mapping(a, 'alerts.dmarc_alignment');
  const no = n === false ? null : n === undefined || n === true ? {} : mapping(n, 'alerts.dmarc_new_source');
  if (ao) onlyKeys(ao, 'alerts.dmarc_alignment', ['threshold', 'min_messages', 'window']);
  if (no) onlyKeys(no, 'alerts.dmarc_new_source', ['min_messages']);
  const windowMs = ao?.window === undefined ? 7 * DAY_MS : duration(ao.window, 'alerts.dmarc_alignment.window');
  if (ao && (windowMs < DAY_MS || windowMs % DAY_MS)) fail('alerts.dmarc_alignment.window', 'whole days (1d, 7d…): reports cover days');
  return {
    alignment: ao ? {
      threshold: ao.threshold === undefined ? 0.98 : num(ao.threshold, 'alerts.dmarc_alignment.threshold', 0, 1),
      minMessages: ao.min_messages === undefined ? 50 : posInt(ao.min_messages, 'alerts.dmarc_alignment.min_messages'),
      windowDays: windowMs / DAY_MS,
    } : null,
    newSource: no ? { minMessages: no.min_messages === undefined ? 100 : posInt(no.min_messages, 'alerts.dmarc_new_source.min_messages') } : null,
  };
}

const pct = (x: number) => `${Math.round(x * 1000) / 10}`;

export function dmarcAlertSource(d: { queries: DmarcQueries; config: DmarcAlertsConfig; tenantOf(domain: string): Promise<string | undefined>; generation(): number }): AlertSource {
  let cached: { at: number; generation: number; alerts: Alert[] } | null = null;

  async function evaluate(now: number): Promise<Alert[]> {
    const out: Alert[] = [];
    const { alignment, newSource } = d.config;
    for (const domain of (await d.queries.domains()).keys()) {
      const tenant = await d.tenantOf(domain);
      if (!tenant) continue;
      const base = { tenant, subject: { per: 'sender_domain' as const, id: domain } };
      if (alignment) {
        const v = await d.queries.domainView(domain, { days: alignment.windowDays, now, resolve: 0 });
        const share = v.relais.share;
        if (share !== null && v.relais.messages >= alignment.minMessages && share < alignment.threshold) {
          out.push({
            ...base,
            id: `dmarc_alignment:${domain}`,
            type: 'dmarc_alignment',
            severity: share < alignment.threshold - 0.1 ? 'critical' : 'warning',
            since: new Date(now).toISOString(),
            value: share,
            threshold: alignment.threshold,
            message: {
              fr: `DMARC : ${pct(share).replace('.', ',')} % seulement du courrier de Relais pour ${domain} est aligné (${v.relais.messages} messages rapportés en ${alignment.windowDays} j, seuil ${pct(alignment.threshold).replace('.', ',')} %)`,
              en: `DMARC: only ${pct(share)}% of Relais's mail for ${domain} is aligned (${v.relais.messages} messages reported over ${alignment.windowDays}d, threshold ${pct(alignment.threshold)}%)`,
            },
          });
        }
      }
      if (newSource) {
        const v = await d.queries.domainView(domain, { days: HISTORY_DAYS, now, resolve: 5 });
        const firstDay = v.byDay.find((day) => day.relais.messages + day.mailcow.messages + day.elsewhere.messages > 0)?.day;
        const recent = isoDay(dayOf(now - (NEW_DAYS - 1) * DAY_MS));
        for (const s of v.bySource) {
          if (s.label === 'relais' || s.firstSeen < recent || !firstDay || s.firstSeen <= firstDay || s.firstDayMessages <= newSource.minMessages) continue;
          const who = s.ptr ? `${s.ip} (${s.ptr})` : s.ip;
          out.push({
            ...base,
            id: `dmarc_new_source:${domain}:${s.ip}`,
            type: 'dmarc_new_source',
            severity: 'warning',
            since: `${s.firstSeen}T00:00:00.000Z`,
            value: s.firstDayMessages,
            threshold: newSource.minMessages,
            message: {
              fr: `DMARC : nouvelle source ${who} (${s.label}) : ${s.firstDayMessages} messages au nom de ${domain} le ${s.firstSeen}, ${s.aligned} alignés`,
              en: `DMARC: new source ${who} (${s.label}) sent ${s.firstDayMessages} messages as ${domain} on ${s.firstSeen}, ${s.aligned} aligned`,
            },
          });
        }
      }
    }
    return out;
  }

  return async (now) => {
    // Recomputed when this node stored a report, else every 10 minutes (other nodes' reports).
    const generation = d.generation();
    if (!cached || cached.generation !== generation || now - cached.at >= EVERY_MS || now < cached.at) cached = { at: now, generation, alerts: await evaluate(now) };
    return cached.alerts;
  };
}
