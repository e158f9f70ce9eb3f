/**
 * RFC 3464 delivery status notifications: multipart/report with a human part (French, then
 * English), the machine-readable message/delivery-status part, and the original headers as
 * text/rfc822-headers.
 */
import { randomBytes } from 'node:crypto';
import type { ReplyCategory } from '../delivery/reply-class.js';
import type { RecipientState, SmtpReply } from '../spool/envelope.js';

export type DsnAction = 'failed' | 'delayed';

export interface DsnRecipient {
  address: string;
  orcpt?: string;
  status: string;
  reply?: SmtpReply;
  remoteMta?: string;
  lastAttemptAt?: number;
}

export interface DsnInput {
  action: DsnAction;
  /** Reporting MTA and MAILER-DAEMON domain. */
  hostname: string;
  /** Recipient of the DSN: the original envelope sender. */
  to: string;
  queueId: string;
  arrivalDate: number;
  recipients: DsnRecipient[];
  /** Original header block (may be empty). */
  headers: Buffer;
  originalSubject?: string;
  /** For delay warnings: until when delivery will be retried. */
  willRetryUntil?: number;
  now?: number;
}

const CRLF = '\r\n';

/** RFC 3463 status of each reply category, for replies that carried no enhanced code. */
const CATEGORY_STATUS: Record<ReplyCategory, string> = {
  invalid_recipient: '5.1.1',
  mailbox_full: '5.2.2',
  message_too_large: '5.3.4',
  spam_content: '5.7.1',
  reputation_block: '5.7.1',
  blocklisted_ip: '5.7.1',
  authentication: '5.7.26',
  rate_limited: '5.7.0',
  policy: '5.7.1',
  tls: '5.7.10',
  dns: '5.1.2',
  connection: '5.4.1',
  other: '5.0.0',
};

/**
 * DSN status of a failed or delayed recipient: the server's enhanced code when it gave one;
 * otherwise the status of the reply's class when it was permanent, 4.4.7 (delivery time expired)
 * for temporary failures.
 */
export function dsnStatus(last: RecipientState['last'], expired: boolean): string {
  if (last?.enhanced) return last.enhanced;
  if (expired || !last?.permanent) return '4.4.7';
  return CATEGORY_STATUS[last.category ?? 'other'];
}

export function buildDsn(input: DsnInput): { bytes: Buffer; messageId: string; subject: string } {
  const now = input.now ?? Date.now();
  const boundary = `=_relais_${randomBytes(12).toString('hex')}`;
  const messageId = `<${randomBytes(12).toString('hex')}.dsn@${input.hostname}>`;
  const failed = input.action === 'failed';
  const subject = failed
    ? 'Message non distribué / Undelivered Mail Returned to Sender'
    : 'Distribution retardée / Delivery Status Notification (Delay)';

  const head = [
    `From: ${encodeWord('Système de messagerie')} <MAILER-DAEMON@${input.hostname}>`,
    `To: <${input.to}>`,
    `Subject: ${encodeWord(subject)}`,
    `Date: ${new Date(now).toUTCString().replace('GMT', '+0000')}`,
    `Message-ID: ${messageId}`,
    'Auto-Submitted: auto-replied',
    'MIME-Version: 1.0',
    `Content-Type: multipart/report; report-type=delivery-status;${CRLF} boundary="${boundary}"`,
  ];

  const human = humanText(input, failed);
  const status = statusPart(input, now);
  const parts = [
    head.join(CRLF),
    '',
    'This is a MIME-encapsulated message (delivery status notification).',
    '',
    `--${boundary}`,
    'Content-Type: text/plain; charset=utf-8',
    'Content-Transfer-Encoding: base64',
    'Content-Description: Notification',
    '',
    wrapBase64(Buffer.from(human, 'utf8').toString('base64')),
    '',
    `--${boundary}`,
    'Content-Type: message/delivery-status',
    'Content-Description: Delivery report',
    '',
    status,
    '',
    `--${boundary}`,
    'Content-Type: text/rfc822-headers',
    'Content-Description: Undelivered message headers',
    '',
  ].join(CRLF);
  const headers = normaliseCrlf(input.headers);
  const tail = Buffer.from(`${CRLF}--${boundary}--${CRLF}`);
  return { bytes: Buffer.concat([Buffer.from(parts + CRLF), headers, tail]), messageId, subject };
}

function humanText(input: DsnInput, failed: boolean): string {
  const list = input.recipients
    .map((r) => `  <${r.address}>${r.reply ? `\n    ${r.remoteMta ? `${r.remoteMta} : ` : ''}${oneLine(r.reply)}` : ''}`)
    .join('\n');
  const until = input.willRetryUntil ? new Date(input.willRetryUntil).toISOString() : '';
  const subj = input.originalSubject ? ` (« ${input.originalSubject} »)` : '';
  const subjEn = input.originalSubject ? ` ("${input.originalSubject}")` : '';
  const fr = failed
    ? `Bonjour,\n\nVotre message${subj} n'a pas pu être distribué aux destinataires suivants ; il ne sera pas réessayé :\n\n${list}\n\nLa raison donnée par le serveur destinataire figure ci-dessus. Les en-têtes du message d'origine sont joints.`
    : `Bonjour,\n\nVotre message${subj} n'a pas encore pu être distribué aux destinataires suivants. Aucune action n'est nécessaire : de nouvelles tentatives auront lieu${until ? ` jusqu'au ${until}` : ''}.\n\n${list}`;
  const en = failed
    ? `Hello,\n\nYour message${subjEn} could not be delivered to the following recipients; it will not be retried:\n\n${list}\n\nThe reason given by the receiving server is shown above. The original message headers are attached.`
    : `Hello,\n\nYour message${subjEn} has not been delivered yet to the following recipients. No action is needed: delivery will be retried${until ? ` until ${until}` : ''}.\n\n${list}`;
  return `${fr}\n\n----- English -----\n\n${en}\n\n-- \nRelais, ${input.hostname}\n`.replace(/\n/g, CRLF);
}

function statusPart(input: DsnInput, now: number): string {
  const fields = [`Reporting-MTA: dns; ${input.hostname}`, `X-Relais-Queue-ID: ${input.queueId}`, `Arrival-Date: ${rfc822(input.arrivalDate)}`];
  const blocks = input.recipients.map((r) => {
    const f = [`Final-Recipient: rfc822; ${ascii(r.address)}`];
    if (r.orcpt) f.push(`Original-Recipient: rfc822; ${ascii(r.orcpt)}`);
    f.push(`Action: ${input.action}`, `Status: ${r.status}`);
    if (r.remoteMta) f.push(`Remote-MTA: dns; ${ascii(r.remoteMta)}`);
    if (r.reply) f.push(`Diagnostic-Code: smtp; ${ascii(oneLine(r.reply))}`);
    f.push(`Last-Attempt-Date: ${rfc822(r.lastAttemptAt ?? now)}`);
    if (input.action === 'delayed' && input.willRetryUntil) f.push(`Will-Retry-Until: ${rfc822(input.willRetryUntil)}`);
    return f.join(CRLF);
  });
  return [fields.join(CRLF), ...blocks].join(CRLF + CRLF);
}

function oneLine(r: SmtpReply): string {
  return [r.code, r.enhanced, r.text].filter((x) => x !== undefined && x !== '').join(' ').replace(/\s+/g, ' ');
}

/** The delivery-status part is 7-bit (RFC 3464 §2.1.3 / RFC 6533 aside). */
function ascii(s: string): string {
  return s.replace(/[^\x20-\x7e]/g, '?').slice(0, 900);
}

function rfc822(ms: number): string {
  return new Date(ms).toUTCString().replace('GMT', '+0000');
}

/** RFC 2047 B-encoding in words of at most 75 characters, folded, never splitting a character. */
function encodeWord(s: string): string {
  if (/^[\x20-\x7e]*$/.test(s)) return s;
  const words: string[] = [];
  let cur = '';
  for (const ch of s) {
    if (Buffer.byteLength(cur + ch) > 42) {
      words.push(cur);
      cur = '';
    }
    cur += ch;
  }
  if (cur) words.push(cur);
  return words.map((w) => `=?UTF-8?B?${Buffer.from(w, 'utf8').toString('base64')}?=`).join(`${CRLF} `);
}

function wrapBase64(b64: string): string {
  return b64.replace(/.{1,76}/g, (l) => l + CRLF).trimEnd();
}

function normaliseCrlf(b: Buffer): Buffer {
  const s = b.toString('latin1').replace(/\r?\n/g, CRLF);
  return Buffer.from(s.endsWith(CRLF) ? s : s + CRLF, 'latin1');
}
