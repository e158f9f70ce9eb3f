/**
 * Parsers for the reports that come back after delivery (parseReport reads the MIME structure
 * once and finds either; every step is linear in the input, which comes from anyone):
 *  - parseDsn: RFC 3464 delivery status notifications (multipart/report; report-type=delivery-status).
 *    Action failed + 5.x.x → hard, failed + 4.x.x or delayed → soft, delivered/relayed/expanded → none.
 *  - parseArf: RFC 5965 feedback reports (complaints), incl. Microsoft JMRP style where the
 *    recipient only appears in the attached message (X-HmXmrOriginalRecipient or To).
 * Both also read the attached original headers (X-Listmonk-Campaign / -Subscriber, Message-ID).
 */
import type { Readable } from 'node:stream';
import { field, parseFields, parseMime, readCapped, walk, type MimePart } from './mime-lite.js';

export type BounceType = 'hard' | 'soft' | 'complaint';

export interface OriginalInfo {
  /** Header fields of the attached original message (or text/rfc822-headers part). */
  originalHeaders: Array<[string, string]>;
  campaignUuid?: string;
  subscriberUuid?: string;
  originalMessageId?: string;
}

export interface DsnRecipient {
  finalRecipient: string;
  originalRecipient?: string;
  action: string;
  status: string;
  diagnosticCode?: string;
  remoteMta?: string;
  /** hard / soft, or null when the action is not a failure or a delay. */
  type: 'hard' | 'soft' | null;
}

export interface DsnReport extends OriginalInfo {
  reportingMta?: string;
  originalEnvelopeId?: string;
  arrivalDate?: string;
  recipients: DsnRecipient[];
}

export interface ArfReport extends OriginalInfo {
  feedbackType: string;
  userAgent?: string;
  version?: string;
  originalMailFrom?: string;
  originalRcptTo: string[];
  /** Best guess of the complaining recipient: Original-Rcpt-To, X-HmXmrOriginalRecipient, then To. */
  recipient?: string;
  arrivalDate?: string;
  sourceIp?: string;
  reportingMta?: string;
  reportedDomain?: string;
}

/** "rfc822; a@b" → "a@b"; strips angle brackets. */
function typedValue(v: string | undefined): string | undefined {
  if (v === undefined) return undefined;
  const i = v.indexOf(';');
  return (i >= 0 ? v.slice(i + 1) : v).trim().replace(/^<(.*)>$/, '$1') || undefined;
}

/** Characters that end an address token: white space , ; < > " */
const isStop = (c: string): boolean => c === ' ' || c === '\t' || c === '\r' || c === '\n' || c === ',' || c === ';' || c === '<' || c === '>' || c === '"';

/**
 * The address in "Name <a@b>", or the first token with an @ inside ("a@b (comment)"). Scanned
 * once, by hand: the obvious regular expressions backtrack quadratically on a long run without
 * > or @, and a report's fields come from anyone.
 */
export function addrOf(v: string | undefined): string | undefined {
  if (!v) return undefined;
  for (let i = v.indexOf('<'); i >= 0; i = v.indexOf('<', i + 1)) {
    const close = v.indexOf('>', i + 1);
    if (close < 0) break;
    const inner = v.slice(v.lastIndexOf('<', close - 1) + 1, close).trim();
    if (inner) return inner;
    i = close;
  }
  let start = 0;
  let at = -1;
  for (let i = 0; i <= v.length; i++) {
    const c = v[i];
    if (c !== undefined && !isStop(c)) {
      if (c === '@' && at < 0 && i > start) at = i;
      continue;
    }
    if (at >= 0 && at < i - 1) return v.slice(start, i);
    start = i + 1;
    at = -1;
  }
  return undefined;
}

export function classifyDsn(action: string, status: string): 'hard' | 'soft' | null {
  const a = action.toLowerCase();
  if (a === 'delayed') return 'soft';
  if (a !== 'failed') return null;
  if (status.startsWith('5')) return 'hard';
  if (status.startsWith('4')) return 'soft';
  return 'hard'; // a failure without a usable status is permanent by definition (RFC 3464 §2.3.3)
}

function originalInfo(root: MimePart): OriginalInfo {
  const part = walk(root).find((p) => ['message/rfc822', 'text/rfc822-headers', 'message/global', 'message/global-headers'].includes(p.contentType));
  const text = part?.body.toString('utf8') ?? '';
  const head = text.split(/\r?\n\r?\n/, 1)[0];
  const originalHeaders = part ? parseFields(head) : [];
  const uuid = (name: string) => field(originalHeaders, name)?.trim().toLowerCase();
  return {
    originalHeaders,
    campaignUuid: uuid('x-listmonk-campaign'),
    subscriberUuid: uuid('x-listmonk-subscriber'),
    originalMessageId: field(originalHeaders, 'message-id')?.trim(),
  };
}

/** Splits a message/delivery-status body into its field groups (per-message, then per-recipient). */
function fieldGroups(text: string): Array<Array<[string, string]>> {
  return text
    .split(/\r?\n[ \t]*\r?\n/)
    .map((g) => parseFields(g.trim()))
    .filter((g) => g.length);
}

export type ReportInput = Buffer | string | Readable;

/** A DSN or a complaint, from one reading of the message (at most `maxBytes` of it). */
export type Report = { kind: 'dsn'; dsn: DsnReport } | { kind: 'arf'; arf: ArfReport };

export async function parseReport(input: ReportInput, maxBytes?: number): Promise<Report | null> {
  const root = parseMime(await readCapped(input, maxBytes));
  const dsn = dsnOf(root);
  if (dsn) return { kind: 'dsn', dsn };
  const arf = arfOf(root);
  return arf ? { kind: 'arf', arf } : null;
}

/** Parses an RFC 3464 DSN; null when the message is not one. */
export async function parseDsn(input: ReportInput): Promise<DsnReport | null> {
  return dsnOf(parseMime(await readCapped(input)));
}

/** Parses an RFC 5965 feedback report; null when the message is not one. */
export async function parseArf(input: ReportInput): Promise<ArfReport | null> {
  return arfOf(parseMime(await readCapped(input)));
}

function dsnOf(root: MimePart): DsnReport | null {
  const status = walk(root).find((p) => p.contentType === 'message/delivery-status' || p.contentType === 'message/global-delivery-status');
  if (!status) return null;
  const [perMessage = [], ...perRecipient] = fieldGroups(status.body.toString('utf8'));
  const recipients: DsnRecipient[] = [];
  for (const g of perRecipient) {
    const finalRecipient = typedValue(field(g, 'final-recipient'));
    const action = field(g, 'action')?.toLowerCase().split(/[\s(]/)[0];
    if (!finalRecipient || !action) continue;
    const diag = field(g, 'diagnostic-code');
    const st = field(g, 'status')?.match(/\d\.\d{1,3}\.\d{1,3}/)?.[0] ?? diag?.match(/\b[245]\.\d{1,3}\.\d{1,3}\b/)?.[0] ?? '';
    recipients.push({
      finalRecipient,
      originalRecipient: typedValue(field(g, 'original-recipient')),
      action,
      status: st,
      diagnosticCode: typedValue(diag),
      remoteMta: typedValue(field(g, 'remote-mta')),
      type: classifyDsn(action, st),
    });
  }
  return {
    reportingMta: typedValue(field(perMessage, 'reporting-mta')),
    originalEnvelopeId: field(perMessage, 'original-envelope-id'),
    arrivalDate: field(perMessage, 'arrival-date'),
    recipients,
    ...originalInfo(root),
  };
}

function arfOf(root: MimePart): ArfReport | null {
  const fb = walk(root).find((p) => p.contentType === 'message/feedback-report');
  if (!fb) return null;
  const f = parseFields(fb.body.toString('utf8'));
  const all = (name: string) => f.filter(([k]) => k.toLowerCase() === name).map(([, v]) => addrOf(v) ?? v.trim());
  const orig = originalInfo(root);
  const originalRcptTo = all('original-rcpt-to');
  const recipient = originalRcptTo[0] ?? addrOf(field(orig.originalHeaders, 'x-hmxmroriginalrecipient')) ?? addrOf(field(orig.originalHeaders, 'to'));
  return {
    feedbackType: (field(f, 'feedback-type') ?? 'abuse').toLowerCase(),
    userAgent: field(f, 'user-agent'),
    version: field(f, 'version'),
    originalMailFrom: addrOf(field(f, 'original-mail-from')) ?? field(f, 'original-mail-from'),
    originalRcptTo,
    recipient: recipient?.toLowerCase(),
    arrivalDate: field(f, 'arrival-date') ?? field(f, 'received-date'),
    sourceIp: field(f, 'source-ip'),
    reportingMta: typedValue(field(f, 'reporting-mta')),
    reportedDomain: field(f, 'reported-domain'),
    ...orig,
  };
}
