/**
 * Tenants (collectives hosted on the exit node) and SMTP clients, as validated from the YAML seed
 * or from admin changes. Same snake_case shape as the YAML so documents round-trip unchanged.
 */
import type { LevelLimits, LimitSet } from '../../policies/limits.js';
import type { BulkPolicy } from '../../policies/bulk.js';
import type { GuardPolicy } from '../../policies/guard.js';
import type { TenantListmonkConfig } from '../../listmonk-bridge/draft-job.js';

/** A tenant's Listmonk instance: the bridge's own settings type (url, public_url, user, token…). */
export type ListmonkSettings = TenantListmonkConfig;

export interface MailboxSettings {
  limits?: LimitSet;
  bulk?: Partial<BulkPolicy>;
  guard?: Partial<Pick<GuardPolicy, 'enabled'>>;
}

export interface TenantConfig {
  id: string;
  name: string;
  /** Lower-case ASCII (punycode); "*.example.org" covers every subdomain. */
  domains: string[];
  /** Per-mailbox settings keyed by normalised address. */
  mailboxes: Record<string, MailboxSettings>;
  limits: LevelLimits;
  /** Limits of newsletter clients sending for this tenant (paced, never refused). */
  newsletter_limits: LevelLimits;
  bulk: Partial<BulkPolicy>;
  guard: Partial<GuardPolicy>;
  listmonk?: ListmonkSettings;
  /** Refuse (451 4.7.5) mail of this tenant when no DKIM key exists for its From domain. */
  dkim_required?: boolean;
  /** Gmail/Yahoo bulk-sender rules for newsletter mail: flag (stats and logs) or reject. */
  newsletter_rules?: { action: 'flag' | 'reject' };
}

export interface ClientConfig {
  name: string;
  /** "$scrypt$..." hash of the SMTP AUTH password (checked by the intake). */
  password_hash?: string;
  /** Source networks (CIDR or address) allowed without AUTH. */
  networks?: string[];
  /** Tenant ids this client may send for; ["*"] = any sender. */
  tenants: string[];
  newsletter: boolean;
  allow_null_sender: boolean;
  /** A disabled client is refused (AUTH fails, its networks no longer match). */
  disabled?: boolean;
  /** Exempt from volume and bulk policies, like Postfix's mynetworks (the implicit loopback client). */
  trusted?: boolean;
}

/** A tenant as the directory shows it. */
export interface TenantView extends TenantConfig {
  /** "store" when a run-time change overrides (or adds to) the YAML seed. */
  source: 'seed' | 'store';
  /** Names of the clients allowed to send for this tenant (explicitly, not via "*"). */
  clients: string[];
}

export interface ClientView extends ClientConfig {
  source: 'seed' | 'store';
}
