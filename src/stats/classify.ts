/**
 * Classify one delivery attempt outcome: delivered / deferred / bounced (hard or soft) and a
 * reason category, from the SMTP reply and the phase where the attempt ended. The rules are
 * ordered data (config/classification.yaml), first match wins.
 */
import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { bundledConfigPath } from './config-path.js';
import { fail, inFile, list, mapping, num, oneOf, onlyKeys, regex, str } from '../config/validate.js';

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

export const PHASES = ['dns', 'connect', 'tls', 'mail', 'rcpt', 'data'] as const;
export type Phase = (typeof PHASES)[number];

export type Outcome = 'delivered' | 'deferred' | 'bounced';
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

export interface ClassificationRule {
  id: string;
  match: { phase?: Phase[]; code?: number[]; enhanced?: RegExp; text?: RegExp };
  reason: Exclude<Reason, 'none'>;
  outcome?: 'deferred' | 'bounced';
}

export interface Classifier {
  readonly rules: readonly ClassificationRule[];
  classify(attempt: AttemptResult): Classification;
}

const LINE_PREFIX = /^\s*(\d{3})[ -]((?:[245])\.\d{1,3}\.\d{1,3})?\s*/;
const ENHANCED_IN_TEXT = /(?:^|\s|#)([245]\.\d{1,3}\.\d{1,3})(?=$|\s|[,;:)\]]|\.(?!\d))/;

/** Join a multi-line reply and strip the per-line "550-5.7.1 " prefixes; returns code/enhanced seen. */
export function normalizeReply(text: string): { text: string; code?: number; enhanced?: string } {
  let code: number | undefined;
  let enhanced: string | undefined;
  const lines = text.split(/\r?\n/).map((line) => {
    const m = LINE_PREFIX.exec(line);
    if (!m) return line.trim();
    code ??= Number(m[1]);
    if (m[2]) enhanced ??= m[2];
    return line.slice(m[0].length).trim();
  });
  const joined = lines.filter((l) => l !== '').join(' ').replace(/\s+/g, ' ').trim();
  if (!enhanced) {
    // "Le serveur a répondu : 5.2.0 Taille limite..." or "dsn=5.1.1": enhanced code early in text.
    const m = ENHANCED_IN_TEXT.exec(joined.slice(0, 80));
    if (m) enhanced = m[1];
  }
  return { text: joined, ...(code !== undefined ? { code } : {}), ...(enhanced ? { enhanced } : {}) };
}

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

/** Validate parsed YAML into rules; errors name the key ("rules[4].match.text"). */
export function parseClassificationRules(doc: unknown, source = 'classification.yaml'): ClassificationRule[] {
  return inFile(source, () => rulesOf(doc));
}

function rulesOf(doc: unknown): ClassificationRule[] {
  const root = mapping(doc, '(root)');
  onlyKeys(root, '', ['rules']);
  const ids = new Set<string>();
  return list(root.rules, 'rules').map((raw, i) => {
    const key = `rules[${i}]`;
    const o = mapping(raw, key);
    onlyKeys(o, key, ['id', 'match', 'reason', 'outcome']);
    const id = str(o.id, `${key}.id`);
    if (ids.has(id)) fail(`${key}.id`, `"${id}" is duplicated`);
    ids.add(id);
    const m = mapping(o.match, `${key}.match`);
    onlyKeys(m, `${key}.match`, ['phase', 'code', 'enhanced', 'text']);
    const match: ClassificationRule['match'] = {};
    if (m.phase !== undefined) {
      const phases = Array.isArray(m.phase) ? m.phase : [m.phase];
      match.phase = phases.map((p, j) => oneOf(p, `${key}.match.phase[${j}]`, PHASES));
    }
    if (m.code !== undefined) {
      const codes = Array.isArray(m.code) ? m.code : [m.code];
      match.code = codes.map((v, j) => num(v, `${key}.match.code[${j}]`, 200, 599));
    }
    if (m.enhanced !== undefined) match.enhanced = regex(m.enhanced, `${key}.match.enhanced`);
    if (m.text !== undefined) match.text = regex(m.text, `${key}.match.text`);
    if (Object.keys(match).length === 0) fail(`${key}.match`, 'needs at least one of phase, code, enhanced, text');
    const rule: ClassificationRule = { id, match, reason: oneOf(o.reason, `${key}.reason`, REASONS) };
    if (o.outcome !== undefined) rule.outcome = oneOf(o.outcome, `${key}.outcome`, ['deferred', 'bounced'] as const);
    return rule;
  });
}

/** Load config/classification.yaml (or another file) into a classifier. */
export function loadClassifier(path: string = bundledConfigPath('classification.yaml')): Classifier {
  let doc: unknown;
  try {
    doc = parseYaml(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new Error(`${path}: cannot read classification file: ${(err as Error).message}`);
  }
  return createClassifier(parseClassificationRules(doc, path));
}
