/**
 * What the policies need to know about a sender that does not change from one message to the
 * next: its effective limits and their keys, its bulk and guard policies, its counter keys.
 * Working it out costs more than the quota check itself, so it is cached per mailbox and rebuilt
 * when the tenant directory or the limit overrides change (both are replaced, never mutated).
 */
import type { BulkPolicy } from '../bulk.js';
import type { GuardPolicy } from '../guard.js';
import type { LimitSet } from '../limits.js';
import type { TenantView } from '../../src/tenants/types.js';
import type { PolicyConfig } from './config.js';
import { overridesFor } from './overrides.js';
import { limitsFor, requestsFor, type KeyedLimit, type SenderScope } from './quota.js';
import type { LimitRequest } from '../../src/store/types.js';
import { senderKeys, type SenderKeys } from './signals.js';
import { BoundedMap } from '../../src/util/bounded-map.js';

export interface SenderContext {
  limits: KeyedLimit[];
  /**
   * The store requests of a message with n recipients (the same every time for this sender:
   * built once per count; the store only reads them).
   */
  requests(recipients: number): LimitRequest[];
  bulk: BulkPolicy;
  guard: GuardPolicy;
  keys: SenderKeys;
}

interface Entry extends SenderContext {
  tenant?: TenantView;
  domain: string;
  overrides: ReadonlyMap<string, LimitSet>;
}

/**
 * Contexts held: keyed by sender mailbox, which clients choose, so bytes, not entries (about
 * 20 000 senders of a tenant with the default limits).
 */
export const SENDER_CONTEXTS_BYTES = 16 * 1024 * 1024;
/** Estimated bytes of a context without its per-count requests (charged as they are built). */
const contextBytes = (e: Entry): number => 512 + 160 * e.limits.length;
/** Recipient counts whose requests are kept per sender (larger messages build theirs). */
const MAX_CACHED_COUNT = 64;

export class SenderContexts {
  private readonly entries = new BoundedMap<Entry>(SENDER_CONTEXTS_BYTES, contextBytes);

  constructor(private readonly cfg: PolicyConfig) {}

  /** Estimated bytes held (never above SENDER_CONTEXTS_BYTES). */
  get bytes(): number {
    return this.entries.bytes;
  }

  /** The context of a (non-newsletter) sender; `overrides` is the current override map. */
  get(scope: SenderScope, overrides: ReadonlyMap<string, LimitSet>): SenderContext {
    const mailbox = scope.mailbox ?? '';
    const hit = this.entries.get(mailbox);
    if (hit && hit.tenant === scope.tenant && hit.domain === scope.domain && hit.overrides === overrides) return hit;
    const { tenant } = scope;
    const mb = tenant?.mailboxes[mailbox];
    const guard: GuardPolicy = { ...this.cfg.guard, ...tenant?.guard, notify: [...this.cfg.guard.notify, ...(tenant?.guard.notify ?? [])] };
    if (mb?.guard?.enabled === false) guard.enabled = false;
    const limits = limitsFor(this.cfg, scope, 'smtp', overridesFor(overrides, scope));
    const byCount: LimitRequest[][] = [];
    const entry: Entry = {
      tenant, domain: scope.domain, overrides,
      limits,
      requests: (n) => {
        if (n >= MAX_CACHED_COUNT) return requestsFor(limits, n);
        let r = byCount[n];
        if (!r) {
          byCount[n] = r = requestsFor(limits, n);
          this.entries.charge(32 + 96 * r.length);
        }
        return r;
      },
      bulk: { ...this.cfg.defaults.bulk, ...tenant?.bulk, ...mb?.bulk },
      guard,
      keys: senderKeys(tenant ? `t:${tenant.id}` : `d:${scope.domain}`, mailbox),
    };
    this.entries.set(mailbox, entry);
    return entry;
  }
}
