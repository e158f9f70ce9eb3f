/**
 * Alerts from delivery's shaping: a provider suspended because our IP is on a block list is
 * critical and says what to do (the reply's own delisting address when it quotes one).
 */
import type { RestrictionView } from '../../relay/delivery/index.js';
import type { Alert } from './alerts.js';

const GENERIC_FIX = {
  fr: "Vérifiez l'adresse IP d'envoi sur les listes de blocage (https://check.spamhaus.org/) et demandez son retrait, puis « relais shaping clear » pour reprendre les envois.",
  en: 'Look the sending IP up on the block lists (https://check.spamhaus.org/) and request its removal, then "relais shaping clear" to resume sending.',
};

export function shapingAlerts(restrictions: () => RestrictionView[]): () => Alert[] {
  return () =>
    restrictions()
      .filter((r) => r.category === 'blocklisted_ip')
      .map((r) => {
        const reply = [r.cause.reply.code, r.cause.reply.enhanced, r.cause.reply.text].filter(Boolean).join(' ');
        const until = new Date(r.until).toISOString();
        return {
          id: `blocklisted_ip:provider:${r.pool}/${r.provider}`,
          type: 'blocklisted_ip' as const,
          severity: 'critical' as const,
          message: {
            fr: `Adresse IP du pool ${r.pool} sur liste de blocage chez ${r.provider} : envois ${r.mode === 'suspended' ? 'suspendus' : 'ralentis'} jusqu'à ${until} (« ${reply} »)`,
            en: `Pool ${r.pool}'s IP block-listed by ${r.provider}: sending ${r.mode} until ${until} ("${reply}")`,
          },
          since: new Date(r.since).toISOString(),
          subject: { per: 'provider' as const, id: r.provider },
          value: r.triggers,
          threshold: 1,
          fix: r.cause.class.fix ?? GENERIC_FIX,
        };
      });
}
