// Minimal types for mailsplit 5 (the streaming MIME splitter Relais reads report attachments with).
declare module 'mailsplit' {
  import type { Transform } from 'node:stream';

  export interface MimeNode {
    type: 'node';
    contentType: string | false;
    filename: string | false;
    encoding: string | false;
    multipart: string | false;
    getDecoder(): Transform;
  }

  export type SplitterChunk = MimeNode | { type: 'data' | 'body'; node: MimeNode; value: Buffer };

  export class Splitter extends Transform {
    constructor(config?: { maxHeadSize?: number; ignoreEmbedded?: boolean });
  }
}
