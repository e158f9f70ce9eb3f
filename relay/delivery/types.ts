/**
 * Boundary types of the delivery half: options, the provider catalogue it is shaped by, and the
 * observer the stats recorder and the Listmonk bounce hook listen on.
 */
import type { AttemptOutcome, Envelope, SmtpReply } from '../spool/envelope.js';
import type { ReplyClass } from './reply-class.js';
import type { ShaperEvent } from './shaper.js';
import type { WarmupSchedule } from './shaping-types.js';

export type { SmtpReply };

/** The provider catalogue (config/providers.yaml), loaded once and used as is by delivery and stats. */
export type { ProviderCatalog, ProviderInfo, ShapingPreset } from '../../config/providers.js';

export type SmarthostTls = 'starttls' | 'implicit' | 'none' | 'opportunistic';

export interface SmarthostOptions {
  host: string;
  port?: number;
  auth?: { user: string; pass: string };
  /** Default 'opportunistic' (STARTTLS when offered). */
  tls?: SmarthostTls;
  /** Verify the smarthost certificate (default true with 'starttls'/'implicit'). */
  rejectUnauthorized?: boolean;
  /** Default 10. */
  maxConnections?: number;
  /** Default 100. */
  messagesPerConnection?: number;
}

/** One outbound identity: source address (IPv4 and/or IPv6) and the EHLO name that matches it. */
export interface OutboundAddress {
  address: string;
  ehloName?: string;
}

export interface DeliveryOptions {
  /** Reporting-MTA of DSNs, MAILER-DAEMON@hostname; default os.hostname(). */
  hostname?: string;
  /** EHLO name; default `hostname`. */
  ehloName?: string;
  /**
   * Named outbound identities (IP pools): an envelope with `pool` leaves from these addresses
   * with this EHLO name (e.g. newsletters from their own IP). Default identity otherwise.
   */
  pools?: Record<string, { ehloName?: string; localAddresses?: OutboundAddress[]; warmup?: WarmupSchedule }>;
  /** Source addresses, one IPv4 and/or one IPv6 used (first of each family); default: any. */
  localAddresses?: OutboundAddress[];
  /** DNS servers "ip", "ip:port", "[v6]:port"; system resolver when empty. */
  dnsServers?: string[];
  /** Per DNS query timeout (default 5000) and tries (default 2). */
  dnsTimeoutMs?: number;
  dnsTries?: number;
  /** Cache of resolved MX routes per domain (default 60000; 0 = no cache). */
  routeCacheMs?: number;
  /** Connect to MX hosts on loopback/private/link-local addresses (RELAIS_ALLOW_PRIVATE_MX=1). */
  allowPrivateMx?: boolean;
  /** Destination port of MX delivery (default 25; tests use their own). */
  port?: number;
  /** Skip AAAA look-ups and IPv6 MX addresses (default false). */
  ignoreIPv6?: boolean;
  smarthost?: SmarthostOptions;
  /** Recipient domains where STARTTLS must succeed. */
  tlsRequiredDomains?: string[];
  /** Enforce MTA-STS (RFC 8461) of domains that publish it (default true). */
  mtaSts?: boolean;
  /** HTTPS port of policy hosts (default 443; tests only). */
  mtaStsPort?: number;
  /** Extra trusted CA certificates (PEM) for MTA-STS fetches and verified TLS (tests, private PKI). */
  caCerts?: string[];
  /** Global cap of open SMTP connections (default 100). */
  maxConnections?: number;
  /** Messages being processed at once (default 200). */
  maxInFlight?: number;
  /** Messages of one recipient domain being processed at once (default 50). */
  maxInFlightPerDomain?: number;
  /** Idle time before a cached connection is closed (default 5000). */
  idleTimeoutMs?: number;
  connectTimeoutMs?: number; // default 30000 (per MX address)
  greetingTimeoutMs?: number; // default 60000
  socketTimeoutMs?: number; // default 300000 (inactivity)
  retryFirstMs?: number; // default 5 min
  retryMaxMs?: number; // default 1 h
  lifetimeMs?: number; // default 5 d
  delayWarningMs?: number; // default 4 h; 0 = never
}

export type Outcome = AttemptOutcome;

/** Where in the exchange the deciding reply came from. */
export const PHASES = ['dns', 'policy', 'connect', 'greeting', 'tls', 'auth', 'mail', 'rcpt', 'data', 'local'] as const;
export type Phase = (typeof PHASES)[number];

export interface AttemptEvent {
  env: Envelope;
  domain: string;
  mx?: string;
  provider: string;
  outcome: Outcome;
  recipients: string[];
  reply: SmtpReply;
  phase: Phase;
  /** What the reply means; absent for deliveries. */
  class?: ReplyClass;
  latencyMs: number;
}

export interface RecipientEvent {
  env: Envelope;
  recipient: string;
  domain: string;
  mx?: string;
  reply: SmtpReply;
  /** The class of the failure (for bounces): `permanent` false means it expired while retried. */
  class?: ReplyClass;
}

export interface DeliveryObserver {
  onAttempt?(e: AttemptEvent): void;
  /** A recipient failed for good (5xx, or its lifetime expired). */
  onFinalBounce?(e: RecipientEvent): void;
  onDelivered?(e: RecipientEvent): void;
  /** A provider was restricted, relaxed, lifted or cleared for a pool (relay/delivery/shaper.ts). */
  onShaping?(e: ShaperEvent): void;
}
