/**
 * The `automation` sections of config/providers.yaml: what a reply about us (scope `provider`)
 * does to sending to that provider, per reply category. The top-level section gives the
 * defaults; a provider's own section replaces the rules of the categories it names and the
 * timings it sets.
 */
import { REPLY_CATEGORIES, type ReplyCategory } from '../relay/delivery/reply-class.js';
import type { AutomationConfig, AutomationRule } from '../relay/delivery/shaping-types.js';
import { duration, fail, mapping, num, oneOf, onlyKeys } from './validate.js';

const RULE_KEYS = ['action', 'factor', 'duration', 'max_duration'] as const;
const SECTION_KEYS = ['probe_interval', 'relax_step', 'rules'] as const;
/** Without max_duration, a rule's duration may double this many times. */
const DEFAULT_DOUBLINGS = 8;

function positive(v: unknown, key: string): number {
  const ms = duration(v, key);
  if (ms <= 0) fail(key, 'must be longer than 0');
  return ms;
}

function parseRule(raw: unknown, key: string): AutomationRule {
  const o = mapping(raw, key);
  onlyKeys(o, key, RULE_KEYS);
  const durationMs = positive(o.duration, `${key}.duration`);
  const maxDurationMs = o.max_duration === undefined ? durationMs * 2 ** DEFAULT_DOUBLINGS : duration(o.max_duration, `${key}.max_duration`);
  if (maxDurationMs < durationMs) fail(`${key}.max_duration`, 'must not be shorter than duration');
  return {
    action: oneOf(o.action, `${key}.action`, ['slow', 'suspend'] as const),
    factor: o.factor === undefined ? 0.5 : num(o.factor, `${key}.factor`, 0.01, 0.99),
    durationMs,
    maxDurationMs,
  };
}

function parseRules(raw: unknown, key: string): Partial<Record<ReplyCategory, AutomationRule>> {
  const o = mapping(raw, key);
  const out: Partial<Record<ReplyCategory, AutomationRule>> = {};
  for (const [cat, r] of Object.entries(o)) {
    const category = oneOf(cat, `${key}.${cat}`, REPLY_CATEGORIES);
    out[category] = parseRule(r, `${key}.${cat}`);
  }
  return out;
}

/** The top-level section: every timing has a value. */
export function parseAutomationDefaults(raw: unknown, key = 'automation'): AutomationConfig {
  const o = raw === undefined ? {} : mapping(raw, key);
  onlyKeys(o, key, SECTION_KEYS);
  return {
    probeIntervalMs: o.probe_interval === undefined ? 60_000 : duration(o.probe_interval, `${key}.probe_interval`),
    relaxStepMs: o.relax_step === undefined ? 60_000 : positive(o.relax_step, `${key}.relax_step`),
    rules: o.rules === undefined ? {} : parseRules(o.rules, `${key}.rules`),
  };
}

/** A provider's section: only what it overrides. */
export function parseAutomationOverride(raw: unknown, key: string): Partial<AutomationConfig> {
  const o = mapping(raw, key);
  onlyKeys(o, key, SECTION_KEYS);
  const out: Partial<AutomationConfig> = {};
  if (o.probe_interval !== undefined) out.probeIntervalMs = duration(o.probe_interval, `${key}.probe_interval`);
  if (o.relax_step !== undefined) out.relaxStepMs = positive(o.relax_step, `${key}.relax_step`);
  if (o.rules !== undefined) out.rules = parseRules(o.rules, `${key}.rules`);
  return out;
}
