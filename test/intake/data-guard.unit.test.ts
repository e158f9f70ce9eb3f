/**
 * The first stage of DATA (relay/intake/data-guard.ts): the size limit, and bare LF / bare CR
 * (the raw material of SMTP smuggling), normalised to CRLF or flagged for refusal, whatever the
 * chunk boundaries.
 */
import { describe, expect, it } from 'vitest';
import { DataGuard } from '../../relay/intake/data-guard.js';

async function run(chunks: string[], max = 1 << 20, mode: 'normalize' | 'reject' = 'normalize') {
  const guard = new DataGuard(max, mode);
  const out: Buffer[] = [];
  for (const c of chunks) {
    const passed = guard.take(Buffer.from(c, 'latin1'));
    if (passed) out.push(passed);
  }
  const last = guard.end();
  if (last) out.push(last);
  return { text: Buffer.concat(out).toString('latin1'), bytes: guard.bytes, exceeded: guard.exceeded, bare: guard.bareNewline };
}

describe('DataGuard', () => {
  it('passes CRLF text as is', async () => {
    expect(await run(['Subject: a\r\n\r\nbody\r\n'])).toEqual({ text: 'Subject: a\r\n\r\nbody\r\n', bytes: 20, exceeded: false, bare: false });
  });

  it('normalises bare LF and bare CR to CRLF, across chunk boundaries', async () => {
    expect(await run(['a\nb\rc\r\nd\r'])).toMatchObject({ text: 'a\r\nb\r\nc\r\nd\r\n', bare: true });
    // A CR at the end of one chunk and an LF at the start of the next is one CRLF.
    expect(await run(['a\r', '\nb\r\n'])).toMatchObject({ text: 'a\r\nb\r\n', bare: false });
    expect(await run(['a\r', 'b\r\n'])).toMatchObject({ text: 'a\r\nb\r\n', bare: true });
    // The smuggling pattern <LF>.<LF> never survives as such.
    expect((await run(['x\r\n\n.\n', 'MAIL FROM:<a@b.c>\r\n'])).text).toBe('x\r\n\r\n.\r\nMAIL FROM:<a@b.c>\r\n');
  });

  it('in reject mode keeps the bytes and flags the message', async () => {
    expect(await run(['a\nb\r\n'], 1 << 20, 'reject')).toMatchObject({ text: 'a\nb\r\n', bare: true });
  });

  it('past the size limit passes nothing more but keeps counting', async () => {
    const r = await run(['12345', '67890', 'abcde'], 8);
    expect(r).toMatchObject({ text: '12345', bytes: 15, exceeded: true });
  });
});
