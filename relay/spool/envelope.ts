/**
 * The envelope: everything Relais knows about one queued message besides its bytes. It is the
 * unit of durable state: each change is written to a new file and renamed into a queue-state
 * directory (Postfix style), so a crash leaves either the old or the new version, never half.
 */
import type { ReplyCategory } from '../delivery/reply-class.js';

/** Queue states are directories of the spool. */
export type QueueState = 'active' | 'deferred' | 'hold';
export const QUEUE_STATES: readonly QueueState[] = ['active', 'deferred', 'hold'];

export type RecipientStatus = 'pending' | 'delivered' | 'deferred' | 'bounced' | 'deleted';

export interface SmtpReply {
  code: number;
  /** RFC 3463 enhanced status code, e.g. "5.1.1". */
  enhanced?: string;
  text: string;
}

export interface RecipientState {
  address: string;
  status: RecipientStatus;
  /** Original recipient (ORCPT) when known; used in DSNs. */
  orcpt?: string;
  attempts: number;
  /** Last reply (or local reason) for this recipient. */
  last?: SmtpReply & { remoteMta?: string; at: number; category?: ReplyCategory; permanent?: boolean };
  /** Set once a bounce DSN or a delay warning has been queued for this recipient. */
  bounced?: boolean;
  delayWarned?: boolean;
}

/** What an attempt did for its recipients. */
export type AttemptOutcome = 'delivered' | 'deferred' | 'bounced';

/** One delivery attempt to one destination domain (kept for the admin API and stats). */
export interface AttemptRecord {
  at: number;
  domain: string;
  mx?: string;
  outcome: AttemptOutcome;
  recipients: string[];
  reply: SmtpReply;
}

export interface ClientInfo {
  /** Name of the configured client (credential or network entry) that sent it. */
  name?: string;
  address: string;
  helo?: string;
  tls: boolean;
  user?: string;
}

export interface Envelope {
  id: string;
  /** Incremented on every rewrite; recovery keeps the highest when two copies exist. */
  rev: number;
  state: QueueState;
  /** Envelope sender; '' is the null sender <>. */
  from: string;
  recipients: RecipientState[];
  receivedAt: number;
  /** Size in bytes of the spooled file (with Relais's added headers). */
  size: number;
  client: ClientInfo;
  tenant?: string;
  /** Mail of a newsletter client (Listmonk): paced in the queue instead of refused at SMTP. */
  newsletter?: boolean;
  messageId?: string;
  headerFrom?: string;
  subject?: string;
  /** X-Listmonk-Campaign / X-Listmonk-Subscriber of newsletter mail. */
  listmonk?: { campaign?: string; subscriber?: string };
  /** Relais-generated mail (DSN, notices): never bounced back. */
  kind?: 'message' | 'dsn' | 'notice';
  /** Outbound identity (delivery.pools) this message leaves from; default identity when absent. */
  pool?: string;
  /** MAIL FROM used for delivery when it differs from `from` (VERP return path of newsletter mail). */
  returnPath?: string;
  /** Header lines (CRLF-terminated) prepended when the message is sent: DKIM-Signature(s). */
  prependHeaders?: string;
  /** Delivery pacing: not before this time (newsletter mail over quota). */
  notBefore?: number;
  /** Earliest time of the next delivery attempt (epoch ms). */
  nextAttemptAt: number;
  /** When the first temporary failure happened (for delay warnings and expiry). */
  firstDeferredAt?: number;
  holdReason?: string;
  attempts: AttemptRecord[];
  /** Free-form annotations from policies (verdict reason, bulk signal...). */
  notes?: Record<string, string>;
}

export function pendingRecipients(env: Envelope): RecipientState[] {
  return env.recipients.filter((r) => r.status === 'pending' || r.status === 'deferred');
}


