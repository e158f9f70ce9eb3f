/**
 * What Relais makes of one SMTP reply (or of a failure that had none): the single result that
 * bounce-or-retry, the DSN status, the Listmonk hard/soft bounce, suppression, provider shaping
 * and stats all read. Produced by the ordered rules of config/classification.yaml.
 */

export const REPLY_CATEGORIES = [
  'invalid_recipient',
  'mailbox_full',
  'message_too_large',
  'spam_content',
  'reputation_block',
  'blocklisted_ip',
  'authentication',
  'rate_limited',
  'policy',
  'tls',
  'dns',
  'connection',
  'other',
] as const;
export type ReplyCategory = (typeof REPLY_CATEGORIES)[number];

/** What the reply speaks about: this recipient, this message, or us as seen by the provider. */
export type ReplyScope = 'recipient' | 'message' | 'provider';

export interface ReplyFix {
  fr: string;
  en: string;
}

export interface ReplyClass {
  category: ReplyCategory;
  /** true: this message will not go through if retried unchanged. */
  permanent: boolean;
  scope: ReplyScope;
  /** Provider id from config/providers.yaml (`other` when unknown). */
  provider: string;
  /** Id of the rule that matched; undefined for the built-in fallback. */
  rule?: string;
  fix?: ReplyFix;
}
