/**
 * Bulk-mail detection. Mailboxes are for person-to-person mail; mass mailings belong in the
 * collective's Listmonk. Signals (any one fires):
 *  - recipients of one message >= recipients_per_message. Postfix splits a message with many
 *    recipients into several transactions with the same Message-ID, so the caller sums them per
 *    sender + Message-ID (refused transactions count too);
 *  - distinct recipients of one mailbox within a day >= distinct_recipients_per_day;
 *  - newsletter headers (List-Unsubscribe, List-Id, Precedence: bulk|list) from a non-newsletter client;
 *  - one normalised body sent to >= fingerprint_recipients distinct recipients within the window.
 */
import type { HeaderFacts, Verdict } from './types.js';
import { bulkAnswer } from './answers.js';

export type BulkAction = 'allow' | 'defer' | 'reject' | 'redirect';
export const BULK_ACTIONS: readonly BulkAction[] = ['allow', 'defer', 'reject', 'redirect'];

export interface BulkPolicy {
  recipients_per_message: number;
  distinct_recipients_per_day: number;
  fingerprint_recipients: number;
  fingerprint_window_minutes: number;
  /** How long split transactions of one message are summed. */
  split_window_minutes: number;
  newsletter_headers: boolean;
  action: BulkAction;
}

export const DEFAULT_BULK: BulkPolicy = {
  recipients_per_message: 50,
  distinct_recipients_per_day: 300,
  fingerprint_recipients: 100,
  fingerprint_window_minutes: 60,
  split_window_minutes: 60,
  newsletter_headers: true,
  action: 'reject',
};

export interface BulkSignals {
  /** Recipients of this message, summed over its split transactions. */
  messageRecipients: number;
  distinctRecipientsToday?: number;
  fingerprintRecipients?: number;
  headers: HeaderFacts;
}

export type BulkSignal = 'recipients_per_message' | 'distinct_recipients_per_day' | 'newsletter_headers' | 'fingerprint';

export interface BulkHit {
  signal: BulkSignal;
  count?: number;
  threshold?: number;
}

export function hasNewsletterMarkers(h: HeaderFacts): boolean {
  return Boolean(h.listUnsubscribe || h.listId) || /^\s*(bulk|list)\s*$/i.test(h.precedence ?? '');
}

export function detectBulk(s: BulkSignals, p: BulkPolicy): BulkHit | null {
  if (s.messageRecipients >= p.recipients_per_message) {
    return { signal: 'recipients_per_message', count: s.messageRecipients, threshold: p.recipients_per_message };
  }
  if (p.newsletter_headers && hasNewsletterMarkers(s.headers)) return { signal: 'newsletter_headers' };
  if (s.distinctRecipientsToday !== undefined && s.distinctRecipientsToday >= p.distinct_recipients_per_day) {
    return { signal: 'distinct_recipients_per_day', count: s.distinctRecipientsToday, threshold: p.distinct_recipients_per_day };
  }
  if (s.fingerprintRecipients !== undefined && s.fingerprintRecipients >= p.fingerprint_recipients) {
    return { signal: 'fingerprint', count: s.fingerprintRecipients, threshold: p.fingerprint_recipients };
  }
  return null;
}

function describe(hit: BulkHit): { fr: string; en: string } {
  switch (hit.signal) {
    case 'recipients_per_message': return { fr: `${hit.count} destinataires pour un message`, en: `${hit.count} recipients for one message` };
    case 'distinct_recipients_per_day': return { fr: `${hit.count} destinataires différents aujourd'hui`, en: `${hit.count} distinct recipients today` };
    case 'newsletter_headers': return { fr: 'en-têtes de liste de diffusion', en: 'mailing-list headers' };
    case 'fingerprint': return { fr: `même message envoyé à ${hit.count} destinataires`, en: `same message sent to ${hit.count} recipients` };
  }
}

/**
 * The verdict for a bulk hit, or null when the action is "allow". Redirect carries the reject
 * answer with the Listmonk hint until the Listmonk bridge replaces it with its own.
 */
export function bulkVerdict(hit: BulkHit, action: BulkAction, tenant?: string, listmonkUrl?: string): Verdict | null {
  if (action === 'allow') return null;
  const what = describe(hit);
  return { action, reason: 'bulk', detail: hit.signal, tenant, smtp: bulkAnswer(action, what, listmonkUrl), bulk: { signal: hit.signal, count: hit.count, what } };
}
