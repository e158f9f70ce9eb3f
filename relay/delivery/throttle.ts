/**
 * Per-provider limits in force: the catalogue's shaping, lowered for a while when a reply
 * matches a throttle rule (421-4.7.28 from Gmail...), then raised back in steps (doubling every
 * `rampStepMs` after the rule's duration) until the configured values are reached again.
 * Every change is logged. Also paces messages to messages_per_minute.
 */
import type { Logger } from 'pino';
import type { ReplyClass } from './reply-class.js';
import type { ProviderCatalog, ProviderInfo, SmtpReply } from './types.js';

export interface Limits {
  maxConnections: number;
  messagesPerConnection: number;
  /** null = unlimited */
  messagesPerMinute: number | null;
}

interface Adjustment {
  provider: ProviderInfo;
  maxConnections?: number;
  messagesPerMinute?: number;
  until: number;
  /** Ramp steps already applied after `until`. */
  steps: number;
}

/** Above this an unlimited rate counts as restored. */
const UNLIMITED_RATE_CEILING = 1000;

export class Throttle {
  private readonly adjustments = new Map<string, Adjustment>();
  private readonly nextSlot = new Map<string, number>();

  constructor(
    private readonly catalog: ProviderCatalog,
    private readonly log: Logger,
    private readonly rampStepMs: number,
  ) {}

  limits(p: ProviderInfo, now = Date.now()): Limits {
    const base: Limits = {
      maxConnections: Math.max(1, p.shaping.maxConnections),
      messagesPerConnection: Math.max(1, p.shaping.messagesPerConnection),
      messagesPerMinute: p.shaping.messagesPerMinute,
    };
    const adj = this.adjustments.get(p.id);
    if (!adj) return base;
    if (now >= adj.until) {
      const steps = Math.floor((now - adj.until) / this.rampStepMs) + 1;
      if (steps > adj.steps) this.ramp(p.id, adj, base, steps);
      if (!this.adjustments.has(p.id)) return base;
    }
    const f = 2 ** adj.steps;
    const conn = adj.maxConnections !== undefined ? Math.min(base.maxConnections, adj.maxConnections * f) : base.maxConnections;
    const rate = adj.messagesPerMinute !== undefined ? capRate(base.messagesPerMinute, adj.messagesPerMinute * f) : base.messagesPerMinute;
    return { ...base, maxConnections: conn, messagesPerMinute: rate };
  }

  private ramp(provider: string, adj: Adjustment, base: Limits, steps: number): void {
    adj.steps = steps;
    const f = 2 ** steps;
    const connDone = adj.maxConnections === undefined || adj.maxConnections * f >= base.maxConnections;
    const rateCeiling = base.messagesPerMinute ?? UNLIMITED_RATE_CEILING;
    const rateDone = adj.messagesPerMinute === undefined || adj.messagesPerMinute * f >= rateCeiling;
    if (connDone && rateDone) {
      this.adjustments.delete(provider);
      this.log.info({ provider, limits: base }, 'throttle: provider back to its configured limits');
      return;
    }
    this.log.info(
      {
        provider,
        step: steps,
        maxConnections: adj.maxConnections !== undefined ? Math.min(base.maxConnections, adj.maxConnections * f) : undefined,
        messagesPerMinute: adj.messagesPerMinute !== undefined ? capRate(base.messagesPerMinute, adj.messagesPerMinute * f) : undefined,
      },
      'throttle: ramping provider back up',
    );
  }

  /**
   * Called once per distinct failed reply from the provider's hosts, with the reply's class (the
   * one classification Relais makes; provider shaping keys on `cls.scope === 'provider'` and its
   * category). Applies the first matching throttle rule; returns true when it slowed down.
   */
  onReply(p: ProviderInfo, reply: SmtpReply, cls?: ReplyClass, now = Date.now()): boolean {
    if (reply.code < 400) return false;
    const rule = this.catalog.throttleFor(p.id, reply);
    if (!rule) return false;
    const current = this.limits(p, now);
    const adj: Adjustment = { provider: p, until: now + rule.durationMs, steps: 0 };
    const a = rule.action;
    if (a.messagesPerMinute !== undefined) adj.messagesPerMinute = Math.max(1, Math.min(current.messagesPerMinute ?? Infinity, a.messagesPerMinute));
    if (a.maxConnections !== undefined) adj.maxConnections = Math.max(1, Math.min(current.maxConnections, a.maxConnections));
    if (a.factor !== undefined) {
      if (current.messagesPerMinute !== null) adj.messagesPerMinute = Math.max(1, Math.floor(Math.min(adj.messagesPerMinute ?? Infinity, current.messagesPerMinute * a.factor)));
      else adj.maxConnections = Math.max(1, Math.floor(Math.min(adj.maxConnections ?? Infinity, current.maxConnections * a.factor)));
    }
    this.adjustments.set(p.id, adj);
    this.log.warn(
      {
        provider: p.id,
        reply,
        rule: this.catalog.throttleRules.indexOf(rule),
        durationMs: rule.durationMs,
        from: current,
        to: { maxConnections: adj.maxConnections ?? current.maxConnections, messagesPerMinute: adj.messagesPerMinute ?? current.messagesPerMinute },
      },
      'throttle: provider slowed down after a matching reply',
    );
    return true;
  }

  /** Waits for the provider's next message slot (spacing 60 s / messages_per_minute). */
  async pace(provider: string, perMinute: number | null, signal: AbortSignal): Promise<void> {
    if (!perMinute) return;
    const now = Date.now();
    const at = Math.max(now, this.nextSlot.get(provider) ?? 0);
    this.nextSlot.set(provider, at + 60_000 / perMinute);
    if (at > now) await sleep(at - now, signal);
  }

  snapshot(): Record<string, { until: number; maxConnections?: number; messagesPerMinute?: number; steps: number }> {
    const out: ReturnType<Throttle['snapshot']> = {};
    for (const a of [...this.adjustments.values()]) this.limits(a.provider); // applies due ramp steps
    for (const [k, a] of this.adjustments) {
      out[k] = { until: a.until, maxConnections: a.maxConnections, messagesPerMinute: a.messagesPerMinute, steps: a.steps };
    }
    return out;
  }
}

function capRate(base: number | null, v: number): number | null {
  return base === null ? v : Math.min(base, v);
}

export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const t = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(t);
      reject(signal!.reason);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
