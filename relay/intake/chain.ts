/**
 * Pipes DATA through the intake stages into the spool writer, which stays open (the envelope
 * trailer goes in at commit). `stream.pipeline(..., { end: false })` does the same but builds an
 * AbortController per call and, on success, destroys the finished stages with an error whose stack
 * it formats: about 50 µs of CPU per message, a tenth of the intake's cost for 2 KiB messages.
 *
 * Resolves once the last stage has ended (all its bytes handed to the sink); rejects with the
 * first error of any stage or of the sink, after destroying the stages.
 */
import type { Duplex, Writable } from 'node:stream';

export function chain(stages: readonly Duplex[], sink: Writable): Promise<void> {
  const last = stages[stages.length - 1];
  if (!last) return Promise.resolve();
  const all: (Duplex | Writable)[] = [...stages, sink];
  return new Promise<void>((resolve, reject) => {
    let settled = false;
    const settle = (err?: Error): void => {
      if (settled) return;
      settled = true;
      for (const s of all) s.off('error', settle);
      last.off('end', onEnd);
      if (!err) return resolve();
      for (const s of stages) s.destroy();
      reject(err);
    };
    const onEnd = (): void => settle();
    for (const s of all) s.on('error', settle);
    last.once('end', onEnd);
    for (let i = 0; i + 1 < stages.length; i++) stages[i]!.pipe(stages[i + 1]!);
    last.pipe(sink, { end: false });
  });
}
