/**
 * SMTP answers meant for humans: French first, then English (" / " between them).
 * Codes: RFC 5321 basic codes with RFC 3463 enhanced codes.
 */
import type { SmtpAnswer } from './types.js';
import type { EffectiveLimit } from './limits.js';

const UNIT_FR = { messages: 'messages', recipients: 'destinataires' } as const;
const PERIOD_FR = { minute: 'minute', hour: 'heure', day: 'jour' } as const;

/** "14:05", or "27/11 14:05" when not today, in the given time zone (default: the system's). */
export function formatClock(at: number, now: number, timeZone?: string): string {
  const parts = (t: number): Record<string, string> =>
    Object.fromEntries(new Intl.DateTimeFormat('fr-FR', {
      timeZone, day: '2-digit', month: '2-digit', hour: '2-digit', minute: '2-digit', hourCycle: 'h23',
    }).formatToParts(new Date(t)).map((p) => [p.type, p.value]));
  // Round up: "retry after 14:05" must not name a minute when it is still too early.
  const p = parts(Math.ceil(at / 60_000) * 60_000);
  const n = parts(now);
  const clock = `${p.hour}:${p.minute}`;
  return p.day === n.day && p.month === n.month ? clock : `${p.day}/${p.month} ${clock}`;
}

export interface QuotaSubject {
  level: EffectiveLimit['level'];
  /** The mailbox address, domain, or tenant name the limit is for. */
  id: string;
}

function subjectText(s: QuotaSubject): { fr: string; en: string } {
  if (s.level === 'mailbox') return { fr: s.id, en: s.id };
  if (s.level === 'domain') return { fr: `le domaine ${s.id}`, en: `domain ${s.id}` };
  return { fr: `le collectif ${s.id}`, en: `collective ${s.id}` };
}

/** `used`: the usage of the window when the message was refused (named so senders see how far they are). */
export function quotaAnswer(limit: EffectiveLimit, subject: QuotaSubject, resetAt: number, now: number, timeZone?: string, used?: number): SmtpAnswer {
  const s = subjectText(subject);
  const usedFr = used === undefined ? '' : ` (${used} déjà utilisé${used > 1 ? 's' : ''})`;
  const usedEn = used === undefined ? '' : ` (${used} already used)`;
  const fr = `Quota dépassé : ${limit.limit} ${UNIT_FR[limit.unit]}/${PERIOD_FR[limit.period]} pour ${s.fr}${usedFr}`;
  const en = `Quota exceeded: ${limit.limit} ${limit.unit}/${limit.period} for ${s.en}${usedEn}`;
  if (limit.hard) return { code: 550, enhanced: '5.7.1', text: `${fr} (limite stricte) / ${en} (hard limit)` };
  const at = formatClock(resetAt, now, timeZone);
  return { code: 451, enhanced: '4.7.1', text: `${fr}, réessai possible à ${at} / ${en}, retry after ${at}` };
}

/** A message that can never fit (more recipients than the limit itself). */
export function tooLargeAnswer(limit: EffectiveLimit, subject: QuotaSubject, cost: number): SmtpAnswer {
  const s = subjectText(subject);
  return {
    code: 550, enhanced: '5.7.1',
    text: `Trop de destinataires (${cost}) : la limite est de ${limit.limit} ${UNIT_FR[limit.unit]}/${PERIOD_FR[limit.period]} pour ${s.fr}`
      + ` / Too many recipients (${cost}): the limit is ${limit.limit} ${limit.unit}/${limit.period} for ${s.en}`,
  };
}

export function spoofingAnswer(domain: string): SmtpAnswer {
  return {
    code: 553, enhanced: '5.7.1',
    text: `Expéditeur non autorisé : ce compte ne peut pas envoyer pour le domaine ${domain} / Sender not authorised: this account may not send for domain ${domain}`,
  };
}

/** A message without exactly one From: header naming an address (`count` = From: headers; 1 = one without an address). */
export function fromCountAnswer(count: number): SmtpAnswer {
  const fr = count === 0 ? 'aucun en-tête From:' : count === 1 ? 'l’en-tête From: ne contient aucune adresse' : `${count} en-têtes From:`;
  const en = count === 0 ? 'no From: header' : count === 1 ? 'the From: header has no address' : `${count} From: headers`;
  return {
    code: 550, enhanced: '5.7.1',
    text: `Le message doit avoir exactement un en-tête From: avec une adresse (${fr}) / The message must have exactly one From: header with an address (${en})`,
  };
}

export function invalidSenderAnswer(address: string): SmtpAnswer {
  return {
    code: 553, enhanced: '5.1.7',
    text: `Adresse d'expéditeur invalide : ${address} / Invalid sender address: ${address}`,
  };
}

export function nullSenderAnswer(): SmtpAnswer {
  return {
    code: 553, enhanced: '5.7.1',
    text: 'Expéditeur vide <> non autorisé pour ce compte / Null sender <> not allowed for this account',
  };
}

export function bulkAnswer(action: 'defer' | 'reject' | 'redirect', what: { fr: string; en: string }, listmonkUrl?: string): SmtpAnswer {
  const hintFr = listmonkUrl ? `utilisez la liste de diffusion Listmonk de votre collectif (${listmonkUrl})` : 'utilisez la liste de diffusion Listmonk de votre collectif';
  const hintEn = listmonkUrl ? `please use your collective's Listmonk (${listmonkUrl})` : "please use your collective's Listmonk";
  if (action === 'defer') {
    return { code: 451, enhanced: '4.7.1', text: `Envoi en nombre suspendu (${what.fr}), réessayez plus tard ou ${hintFr} / Bulk sending deferred (${what.en}), retry later or ${hintEn}` };
  }
  return { code: 550, enhanced: '5.7.1', text: `Envoi en nombre refusé (${what.fr}) : ${hintFr} / Bulk sending refused (${what.en}): ${hintEn}` };
}

export function storeDownAnswer(): SmtpAnswer {
  return { code: 451, enhanced: '4.3.0', text: 'Service temporairement indisponible, réessayez plus tard / Service temporarily unavailable, try again later' };
}

/** A tenant with `dkim_required` sends mail its From: domain has no key for. */
export function dkimRequiredAnswer(domain: string): SmtpAnswer {
  return { code: 451, enhanced: '4.7.5', text: `Aucune clé DKIM pour ${domain}, signature obligatoire : message différé / No DKIM key for ${domain} and signing is required: message deferred` };
}

/** Newsletter mail of a tenant whose `newsletter_rules.action` is reject breaks the Gmail/Yahoo rules. */
export function bulkSenderRulesAnswer(missing: string): SmtpAnswer {
  return { code: 550, enhanced: '5.7.1', text: `Règles des gros expéditeurs (Gmail/Yahoo) non respectées : ${missing} / Bulk sender requirements not met: ${missing}` };
}
