/**
 * Alerts from delivery's shaping: a provider suspended because a node's IP is on a block list is
 * critical and says what to do (the reply's own delisting address when it quotes one). Shaping
 * state is per node (a pool is that node's addresses), but its alerts are shared through the
 * store, so every node's API and dashboard list them, each naming its node; an entry expires
 * with the restriction or is removed when it is lifted.
 */
import type { RestrictionView, ShaperEvent } from '../../relay/delivery/index.js';
import type { Store } from '../store/types.js';
import type { Alert } from './alerts.js';
import type { StatsLogger } from './recorder.js';

const PREFIX = 'shaping:alert:';
/** Kept this long past the restriction's end, so a node that stopped still shows what it had. */
const LINGER_MS = 60_000;

const GENERIC_FIX = {
  fr: "Vérifiez l'adresse IP d'envoi sur les listes de blocage (https://check.spamhaus.org/) et demandez son retrait, puis « relais shaping clear » pour reprendre les envois.",
  en: 'Look the sending IP up on the block lists (https://check.spamhaus.org/) and request its removal, then "relais shaping clear" to resume sending.',
};

export function blocklistAlert(node: string, r: RestrictionView): Alert {
  const reply = [r.cause.reply.code, r.cause.reply.enhanced, r.cause.reply.text].filter(Boolean).join(' ');
  const until = new Date(r.until).toISOString();
  return {
    id: `blocklisted_ip:provider:${node}/${r.pool}/${r.provider}`,
    type: 'blocklisted_ip',
    severity: 'critical',
    message: {
      fr: `Adresse IP du pool ${r.pool} (nœud ${node}) sur liste de blocage chez ${r.provider} : envois ${r.mode === 'suspended' ? 'suspendus' : 'ralentis'} jusqu'à ${until} (« ${reply} »)`,
      en: `Pool ${r.pool}'s IP (node ${node}) block-listed by ${r.provider}: sending ${r.mode} until ${until} ("${reply}")`,
    },
    since: new Date(r.since).toISOString(),
    subject: { per: 'provider', id: r.provider },
    value: r.triggers,
    threshold: 1,
    fix: r.cause.class.fix ?? GENERIC_FIX,
  };
}

export interface ShapingAlerts {
  /** Delivery observer hook: keeps the store's entries in step with this node's restrictions. */
  onShaping(e: ShaperEvent): void;
  /** Every node's block-list alerts (an alerts source). */
  list(): Promise<Alert[]>;
}

export function shapingAlerts(store: Store, node: string, log?: StatsLogger): ShapingAlerts {
  const key = (pool: string, provider: string) => `${PREFIX}${node}/${pool}/${provider}`;
  const failed = (err: unknown) => log?.warn({ err: String(err) }, 'shaping alerts: store unavailable');
  return {
    onShaping(e) {
      if (e.type === 'lifted' || e.type === 'cleared') {
        store.deleteValue(key(e.pool, e.provider)).catch(failed);
        return;
      }
      const r = e.restriction;
      if (r.category !== 'blocklisted_ip') return;
      const alert = blocklistAlert(node, r);
      if (e.type === 'restricted' && r.level === 1) log?.warn({ alert: { id: alert.id, severity: alert.severity } }, `stats alert: ${alert.message.en}`);
      store.setValue(key(r.pool, r.provider), JSON.stringify(alert), Math.max(1000, r.until - Date.now()) + LINGER_MS).catch(failed);
    },
    async list() {
      const out: Alert[] = [];
      for (const k of await store.scanKeys(PREFIX)) {
        const v = await store.getValue(k);
        if (v) out.push(JSON.parse(v) as Alert);
      }
      return out;
    },
  };
}
