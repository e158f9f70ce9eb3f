/** SMTP replies as data: parsing server text, and local replies for failures that had none. */
import type { Phase, SmtpReply } from './types.js';

/** A reply as read from text: the code is absent when the text had none (a local error message). */
export interface ReadReply {
  code?: number;
  enhanced?: string;
  text: string;
}

const LINE_PREFIX = /^\s*([2-5]\d\d)(?:[ -]|$)\s*(?:([245]\.\d{1,3}\.\d{1,3})(?:\s+|$))?/;
const ENHANCED_IN_TEXT = /(?:^|\s|#|=)([245]\.\d{1,3}\.\d{1,3})(?=$|\s|[,;:)\]]|\.(?!\d))/;

/**
 * The one SMTP reply reader: "550-5.1.1 first\n550 5.1.1 second" → { code: 550, enhanced:
 * '5.1.1', text: 'first second' }. Per-line "550-5.1.1 " prefixes are removed and whitespace
 * collapsed; without an enhanced code in a prefix, one early in the text is taken ("Le serveur a
 * répondu : 5.2.0 …", "dsn=5.1.1"). Linear in the input.
 */
export function readReply(raw: string): ReadReply {
  let code: number | undefined;
  let enhanced: string | undefined;
  const lines = raw.split(/\r?\n/).map((line) => {
    const m = LINE_PREFIX.exec(line);
    if (!m) return line.trim();
    code ??= Number(m[1]);
    if (m[2]) enhanced ??= m[2];
    return line.slice(m[0].length).trim();
  });
  const text = lines.filter((l) => l !== '').join(' ').replace(/\s+/g, ' ').trim();
  if (!enhanced) enhanced = ENHANCED_IN_TEXT.exec(text.slice(0, 80))?.[1];
  return { ...(code !== undefined ? { code } : {}), ...(enhanced ? { enhanced } : {}), text };
}

/** A server reply, or null when the text does not start with a reply code. */
export function parseReply(raw: string): SmtpReply | null {
  const r = readReply(raw);
  return r.code === undefined || !/^\s*[2-5]\d\d/.test(raw) ? null : { code: r.code, ...(r.enhanced ? { enhanced: r.enhanced } : {}), text: r.text };
}

export function formatReply(r: SmtpReply): string {
  return [r.code, r.enhanced, r.text].filter((x) => x !== undefined && x !== '').join(' ');
}

/**
 * Error raised by our SMTP layer: the reply and the phase it belongs to. Whether it bounces is
 * decided by the reply classifier (relay/delivery/classify.ts), from the reply and the phase.
 */
export class DeliveryError extends Error {
  constructor(
    readonly reply: SmtpReply,
    readonly phase: Phase,
    options?: { cause?: unknown },
  ) {
    super(formatReply(reply), options);
    this.name = 'DeliveryError';
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
/** Node's (OpenSSL's) certificate verification error codes. */
const CERT_ERROR = /CERT|SELF_SIGNED|UNABLE_TO_(GET|VERIFY)|ERR_TLS_CERT_ALTNAME_INVALID/;

export function errorToFailure(err: unknown, fallbackPhase: Phase): DeliveryError {
  if (err instanceof DeliveryError) return err;
  const e = err as { response?: string; command?: string; code?: string; originalCode?: string; message?: string };
  const phase: Phase = (e.command?.startsWith('AUTH') ? 'auth' : e.command && COMMAND_PHASE[e.command]) || fallbackPhase;
  const parsed = typeof e.response === 'string' ? parseReply(e.response) : null;
  const msg = (e.message ?? String(err)).replace(/\s+/g, ' ').slice(0, 300);
  // A certificate that does not verify (smarthost starttls/implicit, MTA-STS): nodemailer keeps
  // Node's verification code in originalCode. Named as such in the attempt history, deferred.
  if (CERT_ERROR.test(e.originalCode ?? e.code ?? '')) {
    return new DeliveryError({ code: 451, enhanced: '4.7.5', text: `TLS certificate not verified: ${msg}` }, 'tls', { cause: err });
  }
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
