/**
 * DKIM-Signature header lines (RFC 6376, RFC 8463 for ed25519) from a header block and the body
 * hashes the BodyHasher computed while the message streamed into the spool. One signature
 * per key: keys of several domains (author domain + operator domain) give several signatures.
 * Returned lines are folded, CRLF-terminated, ready to prepend to the spooled bytes; existing
 * signatures in the message are left untouched (we never sign DKIM-Signature fields).
 */
import { createHash, createPrivateKey, sign as cryptoSign, type KeyObject } from 'node:crypto';
import { domainToASCII } from 'node:url';
import type { BodyHashes } from './body-hasher.js';
import { canonicalizeHeader, parseHeaderFields, relaxedHeader, type Canon, type HeaderField } from './canonicalize.js';

export type DkimAlgo = 'rsa' | 'ed25519';

/** A decrypted key ready for signing. */
export interface DkimKey {
  domain: string;
  selector: string;
  algo: DkimAlgo;
  /** PEM (PKCS#8 or PKCS#1) or a KeyObject. */
  privateKey: KeyObject | string;
  /** Default relaxed/relaxed. */
  headerCanon?: Canon;
  bodyCanon?: Canon;
}

export interface SignInput {
  /** Header fields, each CRLF-terminated, no blank line (DkimHashResult.headerBlock). */
  headerBlock: Buffer;
  bodyHashes: BodyHashes;
  keys: DkimKey[];
  /** Signing time for t= (default now). */
  now?: number | Date;
  /** Lower-case field names to sign when present; default DEFAULT_SIGNED_HEADERS. */
  headersToSign?: readonly string[];
  /** Bytes at the top of headerBlock that Relais itself prepended (its Received): never signed. */
  addedHeaderBytes?: number;
}

/** Signed when present; From is always over-signed (listed once more than present). */
export const DEFAULT_SIGNED_HEADERS: readonly string[] = [
  'from',
  'sender',
  'reply-to',
  'to',
  'cc',
  'subject',
  'date',
  'message-id',
  'in-reply-to',
  'references',
  'mime-version',
  'content-type',
  'list-id',
  'list-unsubscribe',
  'list-unsubscribe-post',
];

const OVERSIGNED = new Set(['from']);
/** Never signed even if asked: trace and signature fields change in transit. */
const NEVER_SIGNED = new Set(['received', 'return-path', 'dkim-signature', 'arc-seal', 'arc-message-signature', 'arc-authentication-results']);

const LINE = 76;

/**
 * The private-key operation runs on libuv's thread pool (node:crypto's callback form) while
 * other sessions are open: an RSA-2048 signature is about a third of a millisecond of
 * CPU, which on the event loop would hold them all up. `inline` (no other client waits on this
 * thread) signs right here instead: the pool's round trip, two thread wake-ups, costs the lone
 * client more latency than the signature itself. Key and algorithm mismatches throw before
 * anything is signed.
 */
export async function signMessage(input: SignInput, opts: { inline?: boolean } = {}): Promise<string[]> {
  const line = (p: Pending, sig: Buffer) => p.unsigned + foldBase64(sig.toString('base64')) + '\r\n';
  if (opts.inline) return prepare(input).map((p) => line(p, cryptoSign(p.digest, p.data, p.privateKey)));
  return Promise.all(
    prepare(input).map((p) => new Promise<string>((resolve, reject) => cryptoSign(p.digest, p.data, p.privateKey, (err, sig) => (err ? reject(err) : resolve(line(p, sig)))))),
  );
}

/** One signature to make: the header without b=, what to sign and with which key. */
interface Pending {
  unsigned: string;
  digest: 'sha256' | null;
  data: Buffer;
  privateKey: KeyObject;
}

function prepare(input: SignInput): Pending[] {
  const skip = input.addedHeaderBytes ?? 0;
  const fields = parseHeaderFields(input.headerBlock).filter((f) => f.offset >= skip);
  const { names, picked } = selectHeaders(fields, input.headersToSign ?? DEFAULT_SIGNED_HEADERS);
  const t = Math.floor((input.now instanceof Date ? input.now.getTime() : input.now ?? Date.now()) / 1000);
  return input.keys.map((key) => prepareOne(key, names, picked, input.bodyHashes, t));
}

/**
 * h= names and the field instance each one covers, picked bottom-up (RFC 6376 §5.4.2): the
 * n-th occurrence of a name in h= is the n-th field of that name counting from the bottom.
 * Over-signed names get one entry without an instance (it signs "no further field").
 */
function selectHeaders(fields: HeaderField[], wanted: readonly string[]): { names: string[]; picked: HeaderField[] } {
  const names: string[] = [];
  const picked: HeaderField[] = [];
  const seen = new Set<string>();
  for (const raw of wanted) {
    const name = raw.toLowerCase();
    if (seen.has(name) || NEVER_SIGNED.has(name)) continue;
    seen.add(name);
    const instances = fields.filter((f) => f.key === name);
    for (let i = instances.length - 1; i >= 0; i--) {
      names.push(name);
      picked.push(instances[i]);
    }
    if (OVERSIGNED.has(name)) names.push(name);
  }
  return { names, picked };
}

function prepareOne(key: DkimKey, names: string[], picked: HeaderField[], bodyHashes: BodyHashes, t: number): Pending {
  const hc = key.headerCanon ?? 'relaxed';
  const bc = key.bodyCanon ?? 'relaxed';
  if (!bodyHashes[bc]) throw new Error(`DKIM key ${key.selector}._domainkey.${key.domain}: no ${bc} body hash was computed`);
  const privateKey = typeof key.privateKey === 'string' ? createPrivateKey(key.privateKey) : key.privateKey;
  const keyType = privateKey.asymmetricKeyType;
  if ((key.algo === 'rsa' && keyType !== 'rsa') || (key.algo === 'ed25519' && keyType !== 'ed25519'))
    throw new Error(`DKIM key ${key.selector}._domainkey.${key.domain}: algo ${key.algo} but key is ${keyType}`);
  const domain = domainToASCII(key.domain.toLowerCase()) || key.domain.toLowerCase();

  const unsigned = formatHeader([
    'v=1;',
    `a=${key.algo}-sha256;`,
    `c=${hc}/${bc};`,
    `d=${domain};`,
    `s=${key.selector};`,
    `t=${t};`,
    ...hTag(names),
    `bh=${bodyHashes[bc]};`,
  ]);

  const parts: Buffer[] = [];
  for (const f of picked) parts.push(canonicalizeHeader(f.raw, hc), CRLF);
  const self = Buffer.from(unsigned, 'latin1');
  parts.push(hc === 'relaxed' ? relaxedHeader(self) : self); // no CRLF after the signature field
  const data = Buffer.concat(parts);

  return key.algo === 'rsa'
    ? { unsigned, digest: 'sha256', data, privateKey }
    : { unsigned, digest: null, data: createHash('sha256').update(data).digest(), privateKey }; // RFC 8463: Ed25519 over the SHA-256
}

const CRLF = Buffer.from('\r\n');

/** h= as tokens that can be folded at the colons (FWS is allowed around ':' in h=). */
function hTag(names: string[]): string[] {
  if (names.length === 0) return [];
  return names.map((n, i) => (i === 0 ? 'h=' : '') + n + (i === names.length - 1 ? ';' : ':'));
}

/** "DKIM-Signature: " + tokens, folded before a token when the line would exceed LINE; ends with a new line "b=". */
function formatHeader(tokens: string[]): string {
  let out = 'DKIM-Signature:';
  let lineLen = out.length;
  let prevColon = false; // inside h=: no space between names
  for (const tok of tokens) {
    const sep = prevColon ? '' : ' ';
    if (lineLen + sep.length + tok.length > LINE) {
      out += '\r\n\t' + tok;
      lineLen = 1 + tok.length;
    } else {
      out += sep + tok;
      lineLen += sep.length + tok.length;
    }
    prevColon = tok.endsWith(':');
  }
  return out + '\r\n\tb=';
}

/** b= value: continues the "\tb=" line, then folded lines of 72 characters. */
function foldBase64(b64: string): string {
  const first = LINE - 3;
  let out = b64.slice(0, first);
  for (let i = first; i < b64.length; i += 72) out += '\r\n\t' + b64.slice(i, i + 72);
  return out;
}
