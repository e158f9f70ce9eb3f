/**
 * Classify one delivery attempt outcome: delivered / deferred / bounced (hard or soft) and a
 * reason category, from the SMTP reply and the phase where the attempt ended. The rules are
 * ordered data (config/classification.yaml), first match wins.
 */
import { loadClassificationRules, type ClassificationRule } from '../../config/classification.js';
import { readReply } from '../../relay/delivery/reply.js';
import type { Outcome, Phase } from '../../relay/delivery/types.js';

export type { Outcome, Phase };

export const REASONS = [
  'invalid_recipient',
  'mailbox_full',
  'spam_block',
  'blocklisted_ip',
  'authentication',
  'rate_limited',
  'policy',
  'tls',
  'dns',
  'connection',
  'other',
] as const;
/** `none` is the reason of a delivered attempt. */
export type Reason = (typeof REASONS)[number] | 'none';

export type BounceKind = 'hard' | 'soft';

export interface AttemptResult {
  /** SMTP reply code; absent for DNS/connection/TLS failures without a reply. */
  code?: number | null;
  /** Enhanced status code "5.1.1"; read from the text when absent. */
  enhanced?: string | null;
  /** Reply text (may be multi-line with "550-5.1.1 " prefixes) or a local error message. */
  text?: string | null;
  phase: Phase;
  /** The message spent its whole queue lifetime deferred: report it as a soft bounce. */
  expired?: boolean;
}

export interface Classification {
  outcome: Outcome;
  bounceKind?: BounceKind;
  reason: Reason;
  /** Id of the rule that matched (undefined: fallback). */
  ruleId?: string;
  code?: number;
  enhanced?: string;
  /** Normalised single-line text. */
  text: string;
}

export interface Classifier {
  readonly rules: readonly ClassificationRule[];
  classify(attempt: AttemptResult): Classification;
}

/** Join a multi-line reply and strip the per-line "550-5.7.1 " prefixes; returns code/enhanced seen. */
export const normalizeReply = readReply;

function ruleMatches(rule: ClassificationRule, phase: Phase, code: number | undefined, enhanced: string, text: string): boolean {
  const m = rule.match;
  if (m.phase && !m.phase.includes(phase)) return false;
  if (m.code && (code === undefined || !m.code.includes(code))) return false;
  if (m.enhanced && !m.enhanced.test(enhanced)) return false;
  if (m.text && !m.text.test(text)) return false;
  return true;
}

const FALLBACK_BY_PHASE: Partial<Record<Phase, Reason>> = { dns: 'dns', connect: 'connection', tls: 'tls' };

export function createClassifier(rules: readonly ClassificationRule[]): Classifier {
  return {
    rules,
    classify(attempt) {
      const norm = normalizeReply(attempt.text ?? '');
      const code = attempt.code ?? norm.code;
      const enhanced = attempt.enhanced || norm.enhanced;
      const base = { ...(code != null ? { code } : {}), ...(enhanced ? { enhanced } : {}), text: norm.text };
      if (code !== undefined && code >= 200 && code < 300) return { outcome: 'delivered', reason: 'none', ...base };

      let outcome: Outcome = code !== undefined && code >= 500 ? 'bounced' : 'deferred';
      let reason: Reason = FALLBACK_BY_PHASE[attempt.phase] ?? 'other';
      let ruleId: string | undefined;
      const rule = rules.find((r) => ruleMatches(r, attempt.phase, code ?? undefined, enhanced ?? '', norm.text));
      if (rule) {
        reason = rule.reason;
        ruleId = rule.id;
        if (rule.outcome) outcome = rule.outcome;
      }
      let bounceKind: BounceKind | undefined = outcome === 'bounced' ? 'hard' : undefined;
      if (outcome === 'deferred' && attempt.expired) {
        outcome = 'bounced';
        bounceKind = 'soft';
      }
      return { outcome, ...(bounceKind ? { bounceKind } : {}), reason, ...(ruleId ? { ruleId } : {}), ...base };
    },
  };
}

/** Load config/classification.yaml (or another file) into a classifier. */
export function loadClassifier(path?: string): Classifier {
  return createClassifier(loadClassificationRules(path));
}
