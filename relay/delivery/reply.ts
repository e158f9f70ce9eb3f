/** SMTP replies as data: parsing server text, and local replies for failures that had none. */
import type { Phase, SmtpReply } from './types.js';

/** "550-5.1.1 first\n550 5.1.1 second" → { code: 550, enhanced: '5.1.1', text: 'first second' }. */
export function parseReply(raw: string): SmtpReply | null {
  const lines = raw.split(/\r?\n/).filter((l) => l.trim());
  const m = /^([2-5]\d\d)[ -]?(.*)$/.exec(lines[0] ?? '');
  if (!m) return null;
  const code = Number(m[1]);
  let enhanced: string | undefined;
  const texts = lines.map((line) => {
    let t = line.replace(/^\d{3}[ -]?/, '');
    const e = /^([245]\.\d{1,3}\.\d{1,3})(?:\s+|$)/.exec(t);
    if (e) {
      enhanced ??= e[1];
      t = t.slice(e[0].length);
    }
    return t.trim();
  });
  return { code, ...(enhanced ? { enhanced } : {}), text: texts.filter(Boolean).join(' ') };
}

export const isPermanent = (r: SmtpReply) => r.code >= 500;

export function formatReply(r: SmtpReply): string {
  return [r.code, r.enhanced, r.text].filter((x) => x !== undefined && x !== '').join(' ');
}

/** Replies in these phases are about the message or recipient; elsewhere about the host or link. */
const TRANSACTION_PHASES = new Set<Phase>(['mail', 'rcpt', 'data']);

/**
 * Error raised by our SMTP layer: the reply and the phase it belongs to. Only transaction
 * replies can be permanent: a host refusing to talk (554 greeting, STARTTLS missing when
 * required, AUTH refused) defers, like Postfix does.
 */
export class DeliveryError extends Error {
  readonly permanent: boolean;
  constructor(
    readonly reply: SmtpReply,
    readonly phase: Phase,
    options?: { cause?: unknown; permanent?: boolean },
  ) {
    super(formatReply(reply), options);
    this.name = 'DeliveryError';
    this.permanent = options?.permanent ?? (reply.code >= 500 && TRANSACTION_PHASES.has(phase));
  }
}

const COMMAND_PHASE: Record<string, Phase> = {
  CONN: 'connect',
  GREETING: 'greeting',
  EHLO: 'greeting',
  HELO: 'greeting',
  LHLO: 'greeting',
  STARTTLS: 'tls',
  'MAIL FROM': 'mail',
  'RCPT TO': 'rcpt',
  DATA: 'data',
  RSET: 'mail',
};

/**
 * Turns a nodemailer/socket error into a reply. Errors without a server reply are local
 * temporary failures (4.4.x network, 4.7.x TLS), so the recipient is deferred, never bounced.
 */
export function errorToFailure(err: unknown, fallbackPhase: Phase): DeliveryError {
  if (err instanceof DeliveryError) return err;
  const e = err as { response?: string; command?: string; code?: string; message?: string };
  const phase: Phase = (e.command?.startsWith('AUTH') ? 'auth' : e.command && COMMAND_PHASE[e.command]) || fallbackPhase;
  const parsed = typeof e.response === 'string' ? parseReply(e.response) : null;
  const msg = (e.message ?? String(err)).replace(/\s+/g, ' ').slice(0, 300);
  if (e.code === 'ETLS' || phase === 'tls') {
    const reply = parsed ? { ...parsed, text: `STARTTLS failed while TLS is required: ${parsed.text}` } : { code: 451, enhanced: '4.7.5', text: `TLS failure: ${msg}` };
    return new DeliveryError(reply, 'tls', { cause: err });
  }
  if (parsed) return new DeliveryError(parsed, phase, { cause: err });
  if (e.code === 'EMESSAGE' && /larger than allowed/.test(msg)) {
    return new DeliveryError({ code: 552, enhanced: '5.3.4', text: msg }, 'mail');
  }
  if (e.code === 'EAUTH') return new DeliveryError({ code: 454, enhanced: '4.7.0', text: `authentication failed: ${msg}` }, 'auth');
  const enhanced = phase === 'connect' ? '4.4.1' : '4.4.2';
  return new DeliveryError({ code: 451, enhanced, text: msg }, phase, { cause: err });
}
