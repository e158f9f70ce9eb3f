/**
 * Turns a refused bulk message into a Listmonk campaign draft: subject, HTML and text bodies,
 * images and attachments uploaded to Listmonk's media store (cid: links rewritten to the media
 * URLs), or a French/English note in the draft when an upload fails.
 *
 * The message is streamed from its file into mailparser's simpleParser, which buffers attachments:
 * acceptable because drafts are rare, but capped (DRAFT_MAX_BYTES): past the cap only the headers
 * and the beginning are parsed, attachments are dropped and the draft says so.
 */
import { createReadStream } from 'node:fs';
import { Transform, type TransformCallback } from 'node:stream';
import { ListmonkError, asciiFilename, findOrCreate, type ListmonkClient, type NewCampaign } from './client.js';

export const DRAFT_MAX_BYTES = 25 * 1024 * 1024;

export interface MessageFileRef {
  path: string;
  /** Byte offset where the message starts in the file (spool files may carry a header). */
  offset?: number;
}

export interface DraftAttachment {
  filename?: string;
  contentType: string;
  content: Buffer;
  /** Content-ID without brackets, when the HTML may reference it as cid:. */
  cid?: string;
}

export interface DraftSource {
  subject: string;
  html?: string;
  text?: string;
  attachments: DraftAttachment[];
  /** The message was larger than the cap: bodies may be cut, attachments were dropped. */
  truncated: boolean;
}

/** Passes through at most `max` bytes, then ends the stream early (and flags it). */
class Cap extends Transform {
  seen = 0;
  truncated = false;
  constructor(private readonly max: number) {
    super();
  }
  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    if (this.truncated) return cb();
    const room = this.max - this.seen;
    this.seen += chunk.length;
    if (chunk.length > room) {
      this.truncated = true;
      this.push(chunk.subarray(0, room));
      this.push(null);
      return cb();
    }
    cb(null, chunk);
  }
}

export async function readDraftSource(ref: MessageFileRef, maxBytes = DRAFT_MAX_BYTES): Promise<DraftSource> {
  const file = createReadStream(ref.path, { start: ref.offset ?? 0 });
  const cap = new Cap(maxBytes);
  file.on('error', (err) => cap.destroy(err));
  // Loaded on first use: mailparser and its charset tables are ~30 MiB of memory that a relay
  // which never redirects a mailing would carry for nothing.
  const { simpleParser } = await import('mailparser');
  const parsed = await simpleParser(file.pipe(cap), { keepCidLinks: true, checksumAlgo: false });
  file.destroy();
  return {
    subject: parsed.subject ?? '',
    html: typeof parsed.html === 'string' && parsed.html.trim() ? parsed.html : undefined,
    text: parsed.text?.trim() ? parsed.text : undefined,
    attachments: cap.truncated ? [] : parsed.attachments.map((a) => ({ filename: a.filename, contentType: a.contentType, content: a.content, cid: a.cid })),
    truncated: cap.truncated,
  };
}

const EXT: Record<string, string> = { 'image/png': 'png', 'image/jpeg': 'jpg', 'image/gif': 'gif', 'image/svg+xml': 'svg', 'application/pdf': 'pdf' };

/** Listmonk renders body and subject as Go templates: make literal "{{" inert. */
export function escapeGoTemplate(s: string): string {
  return s.replace(/\{\{|\}\}/g, (m) => `{{ "${m}" }}`);
}

const escapeHtml = (s: string) => s.replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]!);
const escapeRe = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

export interface BuildDraftOptions {
  listId: number;
  fromEmail: string;
  /** Unique tag that lets a retry find a campaign an interrupted attempt already created. */
  tag: string;
  name?: string;
}

export interface BuiltDraft {
  campaign: NewCampaign;
  uploaded: Array<{ filename: string; url: string }>;
  /** What could not be carried over (also written into the draft). */
  notes: string[];
}

/** Uploads media and assembles the campaign request (does not create it). */
export async function buildDraft(client: ListmonkClient, src: DraftSource, o: BuildDraftOptions): Promise<BuiltDraft> {
  let html = src.html;
  const uploaded: BuiltDraft['uploaded'] = [];
  const links: Array<{ filename: string; url: string }> = [];
  const notes: string[] = [];
  let n = 0;
  for (const a of src.attachments) {
    n++;
    const filename = a.filename || `${a.cid ? 'image' : 'piece-jointe'}-${n}.${EXT[a.contentType] ?? 'bin'}`;
    // The job's tag and the attachment's rank make the stored name unique, so a retry (or the look-up
    // after a lost reply) finds an upload that already happened instead of making a second one.
    const unique = `${o.tag}-${n}-`;
    try {
      const media = await findOrCreate(
        () => client.findMedia(unique),
        () => client.uploadMedia({ filename: `${unique}${asciiFilename(filename)}`, contentType: a.contentType, data: a.content }),
      );
      uploaded.push({ filename, url: media.url });
      const referenced = !!(html && a.cid && new RegExp(`cid:${escapeRe(a.cid)}`, 'i').test(html));
      if (referenced) html = html!.replace(new RegExp(`cid:${escapeRe(a.cid!)}`, 'gi'), media.url);
      else links.push({ filename, url: media.url });
    } catch (err) {
      // A role without media:get / media:manage, or Listmonk unreachable: the job stops or waits
      // rather than making a draft without its images. A 500 is about the file (Listmonk answers it
      // for an image it cannot decode, cmd/media.go processImage): a note, like a refused type.
      if (err instanceof ListmonkError && (err.status === undefined || err.status === 401 || err.status === 403 || (err.status > 500 && err.status < 600))) throw err;
      const why = err instanceof Error ? err.message.replace(/^listmonk \S+ /, '') : String(err);
      notes.push(
        `La pièce jointe « ${filename} » n'a pas pu être importée dans Listmonk (${why}) : ajoutez-la à la main. / ` +
          `The attachment "${filename}" could not be uploaded to Listmonk (${why}): please add it by hand.`,
      );
    }
  }
  if (src.truncated) {
    notes.push(
      `Le message dépassait ${Math.round(DRAFT_MAX_BYTES / 1048576)} Mio : son contenu est tronqué et ses pièces jointes n'ont pas été reprises. / ` +
        `The message exceeded ${Math.round(DRAFT_MAX_BYTES / 1048576)} MiB: its content is cut and its attachments were not carried over.`,
    );
  }

  const relaisNote = '[Relais — à supprimer avant envoi / remove before sending]';
  let body: string;
  let altbody: string | undefined;
  let contentType: 'html' | 'plain';
  if (html) {
    contentType = 'html';
    let extra = '';
    if (links.length) {
      extra += `<p>Pièces jointes / Attachments :</p><ul>${links.map((l) => `<li><a href="${escapeHtml(l.url)}">${escapeHtml(l.filename)}</a></li>`).join('')}</ul>`;
    }
    if (notes.length) extra += `<hr><p><strong>${relaisNote}</strong></p>${notes.map((x) => `<p>${escapeHtml(x)}</p>`).join('')}`;
    body = extra ? (/<\/body>/i.test(html) ? html.replace(/<\/body>/i, `${extra}</body>`) : html + extra) : html;
    altbody = src.text;
  } else {
    contentType = 'plain';
    body = src.text ?? '';
    if (links.length) body += `\n\nPièces jointes / Attachments :\n${links.map((l) => `- ${l.filename} : ${l.url}`).join('\n')}`;
    if (notes.length) body += `\n\n-- ${relaisNote}\n${notes.join('\n')}`;
  }
  const subject = src.subject.trim() || '(sans objet / no subject)';
  const campaign: NewCampaign = {
    name: (o.name ?? `Relais – ${subject}`).slice(0, 200),
    subject: escapeGoTemplate(subject),
    lists: [o.listId],
    from_email: o.fromEmail,
    content_type: contentType,
    type: 'regular',
    body: escapeGoTemplate(body),
    ...(altbody ? { altbody: escapeGoTemplate(altbody) } : {}),
    tags: ['relais', o.tag],
  };
  return { campaign, uploaded, notes };
}

/** Draft when the message content is not available (redirect decided before DATA). */
export function emptyDraftSource(): DraftSource {
  return {
    subject: '',
    text: "Relais n'a pas reçu le contenu de ce message : écrivez-le ici. / Relais did not receive this message's content: write it here.",
    attachments: [],
    truncated: false,
  };
}
