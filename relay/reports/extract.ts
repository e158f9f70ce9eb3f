/**
 * Reads the reports attached to one inbound message, streaming from the spooled file: MIME
 * parts are split as they come (mailsplit), a report part is decoded (base64/QP), decompressed
 * (gzip, zip, or none) through a byte cap, and parsed (XML → DMARC aggregate, JSON → TLS
 * report) in one pipeline, so neither the message nor the report is ever held whole.
 * Which parts are reports is told by media type or file name, as reporters label them:
 * Google and Yahoo send application/zip, Microsoft application/gzip, some plain text/xml;
 * RFC 8460 TLS reports are application/tlsrpt+gzip (or +json).
 */
import { createReadStream } from 'node:fs';
import { PassThrough, Writable, type Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import { Splitter, type MimeNode, type SplitterChunk } from 'mailsplit';
import { ByteCap } from './capped.js';
import { DmarcXmlSink } from './dmarc-xml.js';
import { JsonSink, TLS_JSON_MAX } from './tlsrpt.js';
import { ReportRejected, type InboundReport } from './types.js';
import { UnzipFirst } from './unzip.js';

export interface ExtractOptions {
  /** Decompressed bytes one report may have (dmarc.max_report_size). */
  maxReportSize: number;
  /** Distinct rows one DMARC report may have. */
  maxRows: number;
  /** Report parts read from one message; later ones are ignored. */
  maxParts?: number;
}

export interface ExtractResult {
  reports: InboundReport[];
  /** Report parts refused, with the reason. */
  rejected: ReportRejected[];
}

type Packing = 'gzip' | 'zip' | 'none';
type Format = 'xml' | 'json';

/** Packing and format of a MIME part, or null when it is no report. */
export function reportPart(contentType: string, filename: string): { packing: Packing; format: Format } | null {
  const t = contentType.toLowerCase();
  const f = filename.toLowerCase();
  const packing: Packing | null = /gzip/.test(t) || /\.gz$/.test(f) ? 'gzip' : /zip/.test(t) || /\.zip$/.test(f) ? 'zip' : null;
  const json = /json/.test(t) || /\.json(\.gz)?$/.test(f) || /tlsrpt/.test(t);
  if (packing) return { packing, format: json ? 'json' : 'xml' };
  if (/[/+]xml$/.test(t) || /\.xml$/.test(f)) return { packing: 'none', format: 'xml' };
  if (/[/+]json$/.test(t) || /\.json$/.test(f)) return { packing: 'none', format: 'json' };
  return null;
}

function decompressor(packing: Packing, max: number): Transform[] {
  if (packing === 'gzip') return [createGunzip(), new ByteCap(max)];
  if (packing === 'zip') return [new UnzipFirst(max)];
  return [new ByteCap(max)];
}

/** One report part being read: body chunks go in, a report (or a refusal) comes out. */
class PartReader {
  readonly input = new PassThrough();
  readonly done: Promise<InboundReport>;
  failed = false;

  constructor(node: MimeNode, kind: { packing: Packing; format: Format }, opts: ExtractOptions) {
    const max = kind.format === 'json' ? Math.min(opts.maxReportSize, TLS_JSON_MAX) : opts.maxReportSize;
    const sink: Writable & { result(): InboundReport } = kind.format === 'json' ? new JsonSink() : new DmarcXmlSink(opts.maxRows);
    this.done = pipeline([this.input, node.getDecoder(), ...decompressor(kind.packing, max), sink]).then(
      () => sink.result(),
      (err: unknown) => {
        this.failed = true;
        // zlib's own errors (bad header, truncated data) are malformed input, not our failures.
        const rejected = err instanceof ReportRejected ? err : new ReportRejected('malformed', `pièce jointe illisible / unreadable attachment: ${(err as Error).message}`);
        rejected.kind = kind.format === 'json' ? 'tlsrpt' : 'dmarc';
        throw rejected;
      },
    );
    this.done.catch(() => undefined);
  }

  async write(chunk: Buffer): Promise<void> {
    if (this.failed || this.input.destroyed) return;
    if (!this.input.write(chunk)) {
      await new Promise<void>((resolve) => {
        const go = () => {
          this.input.off('drain', go);
          this.input.off('close', go);
          resolve();
        };
        this.input.on('drain', go);
        this.input.on('close', go);
        void this.done.catch(go);
      });
    }
  }
}

export async function extractReports(file: string, opts: ExtractOptions): Promise<ExtractResult> {
  const maxParts = opts.maxParts ?? 4;
  const out: ExtractResult = { reports: [], rejected: [] };
  let current: PartReader | null = null;
  let parts = 0;
  const finish = async (): Promise<void> => {
    if (!current) return;
    const reader = current;
    current = null;
    reader.input.end();
    try {
      out.reports.push(await reader.done);
    } catch (err) {
      out.rejected.push(err as ReportRejected);
    }
  };
  const splitter = new Splitter({ maxHeadSize: 64 * 1024 });
  const source = createReadStream(file);
  // pipe() does not pass a read error on: without this the loop below would wait forever.
  source.once('error', (err) => splitter.destroy(err));
  try {
    for await (const item of source.pipe(splitter) as AsyncIterable<SplitterChunk>) {
      if (item.type === 'node') {
        await finish();
        if (item.multipart || parts >= maxParts) continue;
        const kind = reportPart(item.contentType || '', item.filename || '');
        if (!kind) continue;
        parts++;
        current = new PartReader(item, kind, opts);
      } else if (item.type === 'body' && current) {
        await (current as PartReader).write(item.value);
      }
    }
  } catch (err) {
    // A message mailsplit cannot split (e.g. a header block past 64 KiB) is malformed input.
    out.rejected.push(new ReportRejected('malformed', `message MIME illisible / unreadable MIME message: ${(err as Error).message}`));
  } finally {
    source.destroy();
  }
  await finish();
  return out;
}
