/**
 * The one reply classifier: a reply (code, enhanced code, text), the phase it answered and the
 * provider that sent it go through the ordered rules of config/classification.yaml, first match
 * wins, into one ReplyClass. Bounce-or-retry, DSN status, the Listmonk hard/soft bounce,
 * provider shaping and stats all read that result and nothing else.
 */
import type { Classification, ClassificationRule } from '../../config/classification.js';
import { readReply } from './reply.js';
import type { ReplyClass, ReplyFix } from './reply-class.js';
import type { Phase } from './types.js';

export interface ReplyInput {
  /** Absent for a failure without a server reply; read from `text` when it starts with one. */
  code?: number;
  enhanced?: string;
  /** Reply text, possibly multi-line with "550-5.7.1 " prefixes, or a local error message. */
  text: string;
  phase: Phase;
  /** Provider id (config/providers.yaml); `other` when absent. */
  provider?: string;
}

export interface ReplyClassifier {
  classify(input: ReplyInput): ReplyClass;
}

/**
 * Phases where a reply is about this message or recipient. Elsewhere (greeting, TLS, AUTH,
 * local policy) a host refusing to talk defers, like Postfix does: the next attempt may find
 * another MX or a lifted block.
 */
const MESSAGE_PHASES = new Set<Phase>(['dns', 'mail', 'rcpt', 'data']);
const FALLBACK_BY_PHASE: Partial<Record<Phase, ReplyClass['category']>> = { dns: 'dns', connect: 'connection', greeting: 'connection', tls: 'tls' };
const URL = /\bhttps?:\/\/[^\s<>"'\]\[)]+/i;

function matches(rule: ClassificationRule, phase: Phase, provider: string, code: number | undefined, enhanced: string, text: string): boolean {
  const m = rule.match;
  if (m.provider && !m.provider.includes(provider)) return false;
  if (m.phase && !m.phase.includes(phase)) return false;
  if (m.code && (code === undefined || !m.code.includes(code))) return false;
  if (m.enhanced && !m.enhanced.test(enhanced)) return false;
  if (m.text && !m.text.test(text)) return false;
  return true;
}

/** Fills `{url}` with the first URL of the reply; a template needing one the reply lacks is skipped. */
function fillFix(fix: ReplyFix | undefined, text: string): ReplyFix | undefined {
  if (!fix || !fix.fr.includes('{url}')) return fix;
  const url = URL.exec(text)?.[0].replace(/[.,;:]+$/, '');
  return url ? { fr: fix.fr.replaceAll('{url}', url), en: fix.en.replaceAll('{url}', url) } : undefined;
}

export function createReplyClassifier(data: Classification): ReplyClassifier {
  return {
    classify(input) {
      const read = readReply(input.text);
      const code = input.code ?? read.code;
      const enhanced = input.enhanced || read.enhanced || '';
      const provider = input.provider ?? 'other';
      const rule = data.rules.find((r) => matches(r, input.phase, provider, code, enhanced, read.text));
      const category = rule?.category ?? FALLBACK_BY_PHASE[input.phase] ?? 'other';
      const info = data.categories[category];
      // The class digit of the reply, or of its enhanced code when a relay quoted it without one.
      const klass = code !== undefined ? Math.floor(code / 100) : enhanced ? Number(enhanced[0]) : undefined;
      // A 4xx is the server's own word that it is temporary; rules only turn 5xx temporary (a full
      // mailbox, an hourly limit) or say so for failures that had no reply (NXDOMAIN).
      const permanent = MESSAGE_PHASES.has(input.phase) && klass !== 4 && (rule?.permanent ?? info.permanent ?? klass === 5);
      const fix = fillFix(rule?.fix, read.text) ?? info.fix;
      return {
        category,
        permanent,
        scope: rule?.scope ?? info.scope,
        provider,
        ...(rule ? { rule: rule.id } : {}),
        ...(fix ? { fix } : {}),
      };
    },
  };
}
