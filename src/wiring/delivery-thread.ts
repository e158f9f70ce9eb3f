/**
 * Entry of the delivery thread (worker_threads): the queue's owner. It recovers the spool, runs
 * delivery over it, takes the messages the intake committed, applies the admin operations, and
 * reports back changes, observer events and its log lines, batched once per turn of its event
 * loop so the intake's thread is woken once per batch, not once per message.
 */
import { readlinkSync } from 'node:fs';
import { setPriority } from 'node:os';
import { parentPort, workerData } from 'node:worker_threads';
import { join } from 'node:path';
import { loadReplyClassifier } from '../../config/classification.js';
import { loadProviders } from '../../config/providers.js';
import type { DeliveryObserver } from '../../relay/delivery/index.js';
import type { Envelope } from '../../relay/spool/envelope.js';
import { Spool } from '../../relay/spool/spool.js';
import { createLogger } from '../log.js';
import { buildDelivery } from './delivery.js';
import type { Call, CallResults, DeliveryThreadData, FromDelivery, ObserverEvent, ToDelivery } from './delivery-protocol.js';

const port = parentPort!;
// Below the intake: a client waits on every intake reply, while delivery is throughput work that
// takes the cycles the intake leaves (nice 10: about a tenth of a core it has to share).
try {
  setPriority(Number(readlinkSync('/proc/thread-self').split('/').pop()), 10);
} catch {
  /* no /proc (not Linux) or not permitted: same priority as the intake */
}
const { config } = workerData as DeliveryThreadData;
const post = (m: FromDelivery) => port.postMessage(m);

// Log lines go to the main thread, which owns stdout: two writers on one pipe could interleave
// lines longer than PIPE_BUF.
let logLines: string[] = [];
const log = createLogger(config.log_level, {
  write(line: string) {
    logLines.push(line);
    schedule();
  },
});

// As on the main thread (src/cli/start.ts): a stray rejected promise is logged loudly, it does not
// take the relay down with the deliveries in flight. An uncaught exception ends the thread, and
// the main thread then ends the process (delivery-worker.ts).
process.on('unhandledRejection', (reason) => log.error({ err: reason }, 'delivery thread: unhandled promise rejection'));

const added = new Map<string, Envelope>();
const changed = new Map<string, Envelope>();
let removed: string[] = [];
let observed: ObserverEvent[] = [];
let forward = new Set<ObserverEvent['k']>();
let scheduled = false;

function schedule(): void {
  if (scheduled) return;
  scheduled = true;
  setImmediate(flush);
}

/** Sends what happened since the last flush; envelopes are cloned now, in their latest state. */
function flush(): void {
  scheduled = false;
  if (!added.size && !changed.size && !removed.length && !observed.length && !logLines.length) return;
  post({ t: 'events', changes: { added: [...added.values()], changed: [...changed.values()], removed }, observed, log: logLines.join('') });
  logLines = [];
  added.clear();
  changed.clear();
  removed = [];
  observed = [];
}

const observe = (k: ObserverEvent['k']) => (e: never) => {
  if (!forward.has(k)) return;
  observed.push({ k, e } as ObserverEvent);
  schedule();
};
const observer: DeliveryObserver = { onAttempt: observe('attempt'), onFinalBounce: observe('final'), onDelivered: observe('delivered'), onShaping: observe('shaping') };

const spool = await Spool.open({ dir: join(config.data_dir, 'spool'), log });
let fromIntake = false;
spool.on('queued', (env) => {
  if (fromIntake) return; // the main thread has it already
  added.set(env.id, env);
  schedule();
});
spool.on('changed', (env) => {
  if (!added.has(env.id)) changed.set(env.id, env);
  schedule();
});
spool.on('removed', (id) => {
  if (!added.delete(id)) removed.push(id);
  changed.delete(id);
  schedule();
});

const delivery = buildDelivery({
  config,
  spool,
  log,
  providers: loadProviders(config.delivery.providers_file),
  classifier: loadReplyClassifier(config.stats.classification_file),
  observer,
});

async function run(c: Call): Promise<CallResults[Call['op']]> {
  switch (c.op) {
    case 'update': {
      const env = spool.get(c.id);
      if (!env) return null;
      Object.assign(env, c.patch);
      return (await spool.update(env, c.state)) ? env : null;
    }
    case 'remove':
      return spool.remove(c.id);
    case 'shaping':
      return delivery.shaping();
    case 'clearShaping':
      return delivery.clearShaping(c.provider, c.pool);
    case 'stop':
      await delivery.stop({ timeoutMs: c.timeoutMs });
      await spool.close();
      return undefined;
  }
}

port.on('message', (m: ToDelivery) => {
  switch (m.t) {
    case 'queued':
      fromIntake = true;
      try {
        for (const q of m.messages) spool.adopt(q.env, q.body ? Buffer.from(q.body.buffer, q.body.byteOffset, q.body.byteLength) : undefined);
      } finally {
        fromIntake = false;
      }
      return;
    case 'start':
      forward = new Set(m.forward);
      delivery.start();
      return;
    case 'operatorRetry':
      delivery.operatorRetry(m.id);
      return;
    case 'call':
      run(m.call).then(
        (value) => {
          // Changes made by the call reach the main thread before its answer.
          flush();
          post({ t: 'reply', n: m.n, value });
        },
        (err: unknown) => {
          flush();
          post({ t: 'reply', n: m.n, error: (err as Error).message });
        },
      );
  }
});

post({ t: 'ready', envelopes: spool.list() });
