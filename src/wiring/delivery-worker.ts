/**
 * Starts the delivery thread (delivery-thread.ts) and gives the main thread its two handles on
 * it: the spool client the intake and the admin API use, and a delivery control with the same
 * operations as an in-process delivery. Postfix splits smtpd/cleanup from qmgr/smtp into
 * processes; here the split is a thread, so the relay uses a second core while every message
 * stays durable on disk before its 250 and each queue file has one owner.
 */
import { Worker } from 'node:worker_threads';
import { join } from 'node:path';
import pino from 'pino';
import type { Logger } from 'pino';
import type { DeliveryObserver } from '../../relay/delivery/index.js';
import type { Envelope } from '../../relay/spool/envelope.js';
import { SpoolClient, type QueueOwner } from '../../relay/spool/spool-client.js';
import type { RelaisConfig } from '../config/config.js';
import type { Call, CallResults, DeliveryThreadData, FromDelivery, ObserverEvent, ToDelivery } from './delivery-protocol.js';

/** What the main thread may ask of delivery (the API's shaping and queue routes, shutdown). */
export interface DeliveryControl {
  start(): void;
  stop(opts?: { timeoutMs?: number }): Promise<void>;
  shaping(): Promise<CallResults['shaping']>;
  clearShaping(provider: string, pool?: string): Promise<number>;
  operatorRetry(id: string): void;
}

export interface DeliveryThread {
  spool: SpoolClient;
  delivery: DeliveryControl;
  /** Where forwarded observer events go (set before `delivery.start()`). */
  setObserver(o: DeliveryObserver): void;
  /** Ends the thread (after `delivery.stop`). */
  close(): Promise<void>;
}

export async function startDeliveryThread(config: RelaisConfig, log: Logger): Promise<DeliveryThread> {
  const data: DeliveryThreadData = { config };
  const worker = new Worker(new URL('./delivery-thread.js', import.meta.url), { workerData: data });
  const post = (m: ToDelivery, transfer?: ArrayBuffer[]) => worker.postMessage(m, transfer);
  const out = (log as unknown as Record<symbol, { write(s: string): void }>)[pino.symbols.streamSym]!;
  const pending = new Map<number, { resolve(v: unknown): void; reject(e: Error): void }>();
  let next = 0;
  let closing = false;
  let observer: DeliveryObserver = {};

  const call = <C extends Call>(c: C): Promise<CallResults[C['op']]> =>
    new Promise((resolve, reject) => {
      const n = ++next;
      pending.set(n, { resolve: resolve as (v: unknown) => void, reject });
      send({ t: 'call', n, call: c });
    });

  // Messages committed in one turn of the event loop are handed over together (commits come in
  // groups: they share their directory fsync), so the delivery thread is woken once per group.
  let handover: Array<{ env: Envelope; body?: Uint8Array }> = [];
  let transfer: ArrayBuffer[] = [];
  const handOver = () => {
    if (!handover.length) return;
    post({ t: 'queued', messages: handover }, transfer);
    handover = [];
    transfer = [];
  };
  /** Anything else goes after the messages committed so far: an admin hold of a message just
   * accepted must reach the owner after the message itself. */
  const send = (m: ToDelivery) => {
    handOver();
    post(m);
  };
  const owner: QueueOwner = {
    queued(env, body) {
      // The body cache there keeps it for the first attempt. A body with memory of its own (the
      // spool writer's) is transferred, not copied; this thread does not read it again.
      const own = body && body.byteOffset === 0 && body.byteLength === body.buffer.byteLength ? body : body && new Uint8Array(body);
      if (!handover.length) setImmediate(handOver);
      handover.push({ env, body: own });
      if (own) transfer.push(own.buffer as ArrayBuffer);
    },
    update: (id, patch, state) => call({ op: 'update', id, patch, state }),
    remove: (id) => call({ op: 'remove', id }),
  };
  const spool = new SpoolClient(join(config.data_dir, 'spool'), owner, log);

  const dispatch = (o: ObserverEvent) => {
    try {
      if (o.k === 'attempt') observer.onAttempt?.(o.e);
      else if (o.k === 'final') observer.onFinalBounce?.(o.e);
      else if (o.k === 'delivered') observer.onDelivered?.(o.e);
      else observer.onShaping?.(o.e);
    } catch (err) {
      log.error({ err }, 'delivery observer threw');
    }
  };

  let ready!: (envelopes: FromDelivery & { t: 'ready' }) => void;
  let failed!: (err: Error) => void;
  const started = new Promise<FromDelivery & { t: 'ready' }>((res, rej) => {
    ready = res;
    failed = rej;
  });
  worker.on('message', (m: FromDelivery) => {
    switch (m.t) {
      case 'ready':
        return ready(m);
      case 'events':
        if (m.log) out.write(m.log);
        spool.apply(m.changes);
        for (const o of m.observed) dispatch(o);
        return;
      case 'reply': {
        const p = pending.get(m.n);
        pending.delete(m.n);
        if (m.error !== undefined) p?.reject(new Error(m.error));
        else p?.resolve(m.value);
      }
    }
  });
  let up = false;
  worker.on('error', (err) => {
    failed(err);
    if (closing || !up) return;
    // The queue's owner is gone: exit, so that systemd restarts the relay and the spool recovers
    // (every accepted message is on disk) instead of accepting mail nobody delivers.
    log.fatal({ err }, 'delivery thread failed, exiting');
    log.flush?.();
    process.exit(70);
  });
  worker.on('exit', (code) => {
    failed(new Error(`delivery thread exited (${code})`));
    for (const p of pending.values()) p.reject(new Error('delivery thread exited'));
    pending.clear();
    if (closing || !up) return;
    log.fatal({ code }, 'delivery thread exited, exiting');
    log.flush?.();
    process.exit(70);
  });

  try {
    spool.load((await started).envelopes);
  } catch (err) {
    closing = true;
    await worker.terminate();
    throw err;
  }
  up = true;
  let forward: ObserverEvent['k'][] = [];
  return {
    spool,
    setObserver(o) {
      observer = o;
      forward = [o.onAttempt && 'attempt', o.onFinalBounce && 'final', o.onDelivered && 'delivered', o.onShaping && 'shaping'].filter((k): k is ObserverEvent['k'] => !!k);
    },
    delivery: {
      start: () => send({ t: 'start', forward }),
      stop: (o) => call({ op: 'stop', timeoutMs: o?.timeoutMs ?? 30_000 }),
      shaping: () => call({ op: 'shaping' }),
      clearShaping: (provider, pool) => call({ op: 'clearShaping', provider, pool }),
      operatorRetry: (id) => send({ t: 'operatorRetry', id }),
    },
    async close() {
      closing = true;
      await spool.close();
      await worker.terminate();
    },
  };
}
