/**
 * Reply-driven shaping as data: what a reply whose scope is `provider` does to the traffic from
 * one outbound identity (pool) to that provider, and the per-pool warm-up schedule. Parsed and
 * validated from config/providers.yaml and the main configuration; read by relay/delivery/shaper.ts.
 * Modelled on KumoMTA's traffic shaping automation (a matching reply → Suspend or SetConfig for
 * a duration), with the match being the reply's classification instead of a regex, and with
 * escalation on repeats and step-by-step relaxation on successes.
 */
import type { ReplyCategory } from './reply-class.js';

export interface AutomationRule {
  /** `slow`: fewer connections and a lower rate; `suspend`: nothing leaves but a probe now and then. */
  action: 'slow' | 'suspend';
  /**
   * Limits multiplier per level while slowed: level n sends at base × factor^n (slow rules, and
   * the relief that follows a suspension).
   */
  factor: number;
  /** How long the first step lasts (the suspension, or the slow-down before relaxing). Doubles per level. */
  durationMs: number;
  /** Cap of the doubled duration. */
  maxDurationMs: number;
}

export interface AutomationConfig {
  /** While suspended, one message every this often checks whether the provider accepts again (0 = never). */
  probeIntervalMs: number;
  /** After the first step, one level is relaxed each step that saw a success (or no traffic) and no new trigger. */
  relaxStepMs: number;
  rules: Partial<Record<ReplyCategory, AutomationRule>>;
}

/** Warm-up of one pool: day d since `startDay` allows initial × growth^d messages per provider. */
export interface WarmupSchedule {
  /** Epoch ms of 00:00 UTC of day 0. */
  startDay: number;
  initial: number;
  growth: number;
  /** Once the day's volume reaches this, warm-up is over (no limit). */
  max: number;
  /** Providers it applies to; absent = every provider. */
  providers?: string[];
}

/** Share of a restricted budget (warm-up volume, rate slots, connections) newsletter mail may not take. */
export const PERSONAL_RESERVE = 0.1;
