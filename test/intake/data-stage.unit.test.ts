/**
 * The DATA stage (relay/intake/data-stage.ts): guard and header reader run as plain calls in one
 * Writable, whose output reaches the spool writer in order, with back-pressure, and whose writer
 * failing fails the stage instead of leaving the SMTP transaction hanging.
 */
import { Readable, Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { DataGuard } from '../../relay/intake/data-guard.js';
import { DataStage, stageDone } from '../../relay/intake/data-stage.js';
import { HeaderReader } from '../../relay/intake/header-reader.js';

/** A sink taking one chunk per `delayMs`, with a small buffer: it applies back-pressure. */
function slowSink(delayMs: number, fail?: Error): Writable & { got: Buffer[] } {
  const got: Buffer[] = [];
  const sink = new Writable({
    highWaterMark: 16,
    write(chunk: Buffer, _enc, done) {
      got.push(chunk);
      setTimeout(() => done(fail), delayMs);
    },
  });
  sink.on('error', () => undefined);
  return Object.assign(sink, { got });
}

function stage(sink: Writable, bodies: Buffer[] = [], max = 1 << 20) {
  const guard = new DataGuard(max, 'normalize');
  const reader = new HeaderReader(() => 'Date: d\r\n', (c) => bodies.push(Buffer.from(c)));
  return { guard, reader, stage: new DataStage(guard, reader, sink) };
}

describe('DATA stage', () => {
  it('passes the message to the writer in order, bare LFs fixed, the added header in, the body to the observer', async () => {
    const sink = slowSink(1);
    const bodies: Buffer[] = [];
    const s = stage(sink, bodies);
    const msg = 'Subject: s\nFrom: a@b.example\r\n\r\n' + 'ligne\r\n'.repeat(200);
    const chunks = msg.match(/[\s\S]{1,37}/g)!.map((c) => Buffer.from(c));
    const done = stageDone(s.stage);
    Readable.from(chunks).pipe(s.stage);
    await done;
    expect(Buffer.concat(sink.got).toString()).toBe('Subject: s\r\nFrom: a@b.example\r\nDate: d\r\n\r\n' + 'ligne\r\n'.repeat(200));
    expect(Buffer.concat(bodies).toString()).toBe('ligne\r\n'.repeat(200));
    expect(s.guard.bareNewline).toBe(true);
    expect(s.reader.facts().from).toEqual(['a@b.example']);
  });

  it('fails, without hanging, when the writer fails', async () => {
    const s = stage(slowSink(1, Object.assign(new Error('ENOSPC: no space left on device'), { code: 'ENOSPC' })));
    const done = stageDone(s.stage);
    const big = Array.from({ length: 50 }, () => Buffer.from('x'.repeat(1000) + '\r\n'));
    Readable.from([Buffer.from('Subject: s\r\n\r\n'), ...big]).pipe(s.stage);
    await expect(done).rejects.toMatchObject({ code: 'ENOSPC' });
  });

  it('stops passing bytes on past the size limit but takes them all', async () => {
    const sink = slowSink(0);
    const s = stage(sink, [], 100);
    const done = stageDone(s.stage);
    Readable.from([Buffer.from('Subject: s\r\n\r\n'), Buffer.from('y'.repeat(500))]).pipe(s.stage);
    await done;
    expect(s.guard.exceeded).toBe(true);
    expect(s.guard.bytes).toBe(514);
    expect(Buffer.concat(sink.got).length).toBeLessThanOrEqual(100 + 'Date: d\r\n'.length);
  });
});
