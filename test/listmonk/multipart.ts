/** Minimal multipart/form-data parser for the fake Listmonk (requests are small, held in memory). */

export interface FormPart {
  name: string;
  filename?: string;
  contentType?: string;
  data: Buffer;
}

export function parseMultipart(body: Buffer, contentType: string): FormPart[] | string {
  const m = /boundary="?([^";]+)"?/i.exec(contentType);
  if (!/^multipart\/form-data/i.test(contentType) || !m) return `expected multipart/form-data with a boundary, got "${contentType}"`;
  const delim = Buffer.from(`--${m[1]}`);
  const parts: FormPart[] = [];
  let pos = body.indexOf(delim);
  if (pos < 0) return 'no multipart boundary in body';
  for (;;) {
    pos += delim.length;
    if (body.subarray(pos, pos + 2).toString() === '--') break;
    if (body.subarray(pos, pos + 2).toString() !== '\r\n') return 'malformed boundary line';
    pos += 2;
    const headEnd = body.indexOf('\r\n\r\n', pos);
    const next = body.indexOf(Buffer.concat([Buffer.from('\r\n'), delim]), pos);
    if (headEnd < 0 || next < 0 || headEnd > next) return 'truncated multipart body';
    const headers = body.subarray(pos, headEnd).toString('utf8').split('\r\n');
    const part: FormPart = { name: '', data: body.subarray(headEnd + 4, next) };
    for (const h of headers) {
      const [k, ...rest] = h.split(':');
      const v = rest.join(':').trim();
      if (/^content-disposition$/i.test(k)) {
        part.name = /\bname="([^"]*)"/i.exec(v)?.[1] ?? '';
        const fn = /\bfilename="([^"]*)"/i.exec(v)?.[1];
        if (fn !== undefined) part.filename = fn;
      } else if (/^content-type$/i.test(k)) {
        part.contentType = v;
      }
    }
    parts.push(part);
    pos = next + 2;
  }
  return parts;
}
