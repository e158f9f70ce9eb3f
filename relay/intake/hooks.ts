/**
 * Where the policies, DKIM and the Listmonk bridge plug into the intake. The intake knows
 * nothing of tenants or quotas: it gathers facts, asks, and acts on the answer.
 */
import type { ClientIdentity, MessageFacts, Verdict } from '../../policies/types.js';

/** Sees every body byte as spooled (after the header section's empty line): the DKIM body hash. */
export interface DataObserver {
  update(chunk: Buffer): void;
}

export interface DataContext {
  queueId: string;
  facts: MessageFacts;
  /** The message's header fields as spooled, with Relais's added ones (not its Received, never signed), for DKIM signing. */
  headerBlock: Buffer;
  observer?: DataObserver;
  /** Spooled bytes (not yet committed): call flushBody() before reading the file. */
  bodyPath: string;
  /** Writes the message bytes still buffered to bodyPath (they are written at commit otherwise). */
  flushBody(): Promise<void>;
}

export interface Decision {
  verdict: Verdict;
  /** Header lines to prepend at delivery (DKIM-Signature), when accepted. */
  prependHeaders?: string;
  /** MAIL FROM used for delivery (VERP return path). */
  returnPath?: string;
  notes?: Record<string, string>;
  /**
   * The message was handled by the hooks themselves (an inbound DSN or complaint report): answer
   * with the verdict's 2xx text (or "queued") and discard the spooled bytes instead of queueing.
   */
  consume?: boolean;
  /** Deliver to these instead of the envelope's recipients (postmaster@ of the bounce domain,
   * forwarded to a person). */
  recipients?: string[];
}

/**
 * Where a recipient of an unauthenticated (inbound) client lands: 'report' = an address Relais
 * takes reports at (VERP return path); 'postmaster' = postmaster@ the bounce domain (RFC 5321
 * §4.5.1, forwarded to a person); 'unknown' = the bounce domain, but no such address;
 * null = anywhere else (relay denied).
 */
export type ReportRecipient = 'report' | 'postmaster' | 'unknown' | null;

/** A part that takes reports at its own addresses (VERP bounces, DMARC/TLS reports). */
export interface ReportTaker {
  /** For RCPT TO from unauthenticated clients. */
  recipientKind(address: string): ReportRecipient;
  /** True when every recipient is one of its addresses (the message is a report for it). */
  isReport(recipients: string[]): boolean;
  /** Reads the spooled report and answers: 250 (consumed), 4xx or 5xx. */
  handle(ctx: DataContext): Promise<Decision>;
  /** Which of several takers reads this address (undefined: none); one message goes to one taker. */
  takerOf?(address: string): number | undefined;
}

export interface IntakeHooks {
  checkSender?(client: ClientIdentity, mailFrom: string): Promise<Verdict | null>;
  createObserver?(): DataObserver | undefined;
  /** Whether the policies use a body fingerprint (facts.bodyFingerprint) for this client's mail. */
  fingerprint?(client: ClientIdentity): boolean;
  decide(ctx: DataContext): Promise<Decision>;
  /** Set when Relais takes inbound reports (a bounce domain is configured). */
  reportRecipient?(address: string): ReportRecipient;
  /** Which report taker reads this address, when there are several (see ReportTaker.takerOf). */
  reportTaker?(address: string): number | undefined;
}
