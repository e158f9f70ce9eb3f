/**
 * Compromised-account guard: a mailbox that suddenly sends far more than it usually does, or to
 * a burst of recipient domains it never wrote to, is probably in the hands of a spammer. Its mail
 * is accepted into the hold queue (verdict hold) and the mailbox and admins get a notice.
 */
import type { Notice } from './types.js';

export interface GuardPolicy {
  enabled: boolean;
  /** Hold when this hour's volume >= volume_factor x the usual hourly volume... */
  volume_factor: number;
  /** ...and at least this many messages this hour (so quiet mailboxes aren't held for 3 mails). */
  min_hourly: number;
  /** History kept to learn the usual volume and the known recipient domains. */
  history_days: number;
  /** Hold when this many never-seen recipient domains appear within an hour... */
  new_domains_per_hour: number;
  /** ...once the mailbox has written to at least this many domains (else everything is "new"). */
  min_known_domains: number;
  /** Admin addresses that get the notice besides the mailbox. */
  notify: string[];
}

export const DEFAULT_GUARD: GuardPolicy = {
  enabled: true,
  volume_factor: 10,
  min_hourly: 50,
  history_days: 7,
  new_domains_per_hour: 20,
  min_known_domains: 10,
  notify: [],
};

const HOUR_MS = 3_600_000;
let lastHour = { start: NaN, key: '' };

/** Hour bucket key in UTC: "YYYYMMDDHH" (the last one is kept: most calls fall in it). */
export function hourKey(t: number): string {
  const start = Math.floor(t / HOUR_MS) * HOUR_MS;
  if (start !== lastHour.start) lastHour = { start, key: new Date(t).toISOString().slice(0, 13).replace(/[-T]/g, '') };
  return lastHour.key;
}

/**
 * Usual hourly volume: mean over the hours in which the mailbox sent anything (not counting the
 * current hour) — a mailbox sending 20 mails a day spread over a few hours has a usual ~5/hour.
 */
export function usualHourlyVolume(buckets: Record<string, number>, currentHour: string): number {
  const active = Object.entries(buckets).filter(([h, n]) => h !== currentHour && n > 0).map(([, n]) => n);
  return active.length === 0 ? 0 : active.reduce((a, b) => a + b, 0) / active.length;
}

export interface GuardFacts {
  /** Messages of this mailbox in the current hour, this one included. */
  currentHour: number;
  usualHourly: number;
  /** Distinct never-seen recipient domains within the last hour (this message's included). */
  newDomainsLastHour: number;
  /** Recipient domains known before this message. */
  knownDomains: number;
}

export interface GuardHit {
  signal: 'volume' | 'new_domains';
  text: { fr: string; en: string };
}

export function judgeGuard(f: GuardFacts, p: GuardPolicy): GuardHit | null {
  if (!p.enabled) return null;
  if (f.currentHour >= p.min_hourly && f.currentHour >= p.volume_factor * f.usualHourly) {
    const usual = Math.round(f.usualHourly * 10) / 10;
    return {
      signal: 'volume',
      text: {
        fr: `${f.currentHour} messages cette heure-ci, contre ${usual} habituellement`,
        en: `${f.currentHour} messages this hour, usually ${usual}`,
      },
    };
  }
  if (f.knownDomains >= p.min_known_domains && f.newDomainsLastHour >= p.new_domains_per_hour) {
    return {
      signal: 'new_domains',
      text: {
        fr: `${f.newDomainsLastHour} nouveaux domaines destinataires en une heure`,
        en: `${f.newDomainsLastHour} never-seen recipient domains within an hour`,
      },
    };
  }
  return null;
}

export function holdNotice(mailbox: string, hit: GuardHit, admins: string[]): Notice {
  return {
    to: [...new Set([mailbox, ...admins].filter(Boolean))],
    subject: `Relais : envois de ${mailbox} mis en attente / Relais: mail from ${mailbox} held`,
    text: [
      `Bonjour,`,
      ``,
      `Les envois de ${mailbox} ont été mis en attente par précaution (${hit.text.fr}).`,
      `Ce compte est peut-être compromis : changez son mot de passe. Les messages retenus seront`,
      `envoyés ou supprimés par les administrateurs après vérification.`,
      ``,
      `---`,
      ``,
      `Hello,`,
      ``,
      `Mail from ${mailbox} has been put on hold as a precaution (${hit.text.en}).`,
      `This account may be compromised: please change its password. Held messages will be`,
      `released or deleted by the administrators after review.`,
    ].join('\n'),
  };
}
