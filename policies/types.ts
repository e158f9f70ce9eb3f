/**
 * What the policies see (facts) and what they answer (verdicts). The intake gathers facts from
 * the SMTP session and the message headers; policies never touch sockets or files.
 */

export interface ClientIdentity {
  /** Name of the matching client entry (credential or network), if any. */
  name?: string;
  /** Tenants this client may send for; ["*"] = any sender. */
  tenants: string[];
  /** Newsletter clients (Listmonk) are paced in the queue, never refused for volume. */
  newsletter: boolean;
  address: string;
  authenticated: boolean;
  /** May use the null sender <> (e.g. Mailcow forwarding its own bounces). */
  allowNullSender?: boolean;
  /** Relais itself (DSNs, notices): may use <> and any sender. */
  internal?: boolean;
  /** Trusted client (Postfix mynetworks style): sender rules apply, volume and bulk policies don't. */
  trusted?: boolean;
}

export interface HeaderFacts {
  /** Addresses of every From: header (usually one address in one header), lower-cased. */
  from: string[];
  /**
   * Raw value of each From: header, in order (RFC 5322 allows exactly one; the sender policy
   * refuses other counts and judges display-name tricks on these).
   */
  fromRaw: string[];
  messageId?: string;
  subject?: string;
  listUnsubscribe?: string;
  listUnsubscribePost?: string;
  listId?: string;
  precedence?: string;
  listmonkCampaign?: string;
  listmonkSubscriber?: string;
}

/**
 * A normalised body's fingerprint (relay/intake/body-fingerprint.ts): two 32-bit hashes and the
 * normalised length. Numbers, not text: most bodies are one of a kind and only need a lookup.
 */
export interface BodyPrint {
  h1: number;
  h2: number;
  length: number;
}

export interface MessageFacts {
  client: ClientIdentity;
  /** Envelope sender, '' for the null sender. */
  mailFrom: string;
  recipients: string[];
  headers: HeaderFacts;
  size: number;
  /** Normalised body fingerprint, when computed. */
  bodyFingerprint?: BodyPrint;
  now: number;
}

export type VerdictAction = 'accept' | 'defer' | 'reject' | 'redirect' | 'hold';

export interface SmtpAnswer {
  code: number;
  enhanced: string;
  /** Human text, French first then English. */
  text: string;
}

export interface Verdict {
  action: VerdictAction;
  /** Machine reason for stats/logs: "quota", "bulk", "spoofing", "compromised"... */
  reason: string;
  /** Which detail fired (e.g. "mailbox.messages_per_hour", "recipients_per_message"). */
  detail?: string;
  /** SMTP answer for defer/reject/redirect. */
  smtp?: SmtpAnswer;
  tenant?: string;
  /** For accept of newsletter mail over quota: do not deliver before this time (epoch ms). */
  notBefore?: number;
  /** For hold: why (shown to admins). */
  holdReason?: string;
  /** For bulk verdicts: the signal that fired, its figure (e.g. 312 recipients) and a description. */
  bulk?: { signal: string; count?: number; what: { fr: string; en: string } };
  /** For hold: notice to send to the mailbox and the admins (sent by the composition root). */
  notice?: Notice;
  /** Sender mailbox the verdict was counted for (lower-case, '' for <>). */
  mailbox?: string;
  /** For quota verdicts: the limit that refused (or paced), for logs. */
  limit?: { level: string; name: string; limit: number; used: number; resetAt: number; hard: boolean };
}

export interface Notice {
  to: string[];
  /** French then English. */
  subject: string;
  /** Plain text, French then English. */
  text: string;
}

export const ACCEPT: Verdict = { action: 'accept', reason: 'ok' };
