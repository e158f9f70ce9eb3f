/**
 * Queue operations during a delivery attempt (issue 18): the attempt's final update must not undo
 * them. A message deleted while its DATA is in flight stays deleted (no envelope brought back, no
 * retry against a missing body, no bounce to the sender); a message put on hold stays on hold.
 */
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { createDelivery, type AttemptEvent } from '../../relay/delivery/index.js';
import { deleteMessage, holdMessage } from '../../relay/spool/queue-ops.js';
import type { TestDnsServer } from '../helpers/dns-server.js';
import { enqueue, log, openSpool, sleep, type TestMx, waitFor, startDestAndSenders, type DestAndSenders } from './helpers.js';

let world: DestAndSenders;
let dns: TestDnsServer;
let port: number;
/** Destination of the test messages. */
let dest: TestMx;
/** MX of the senders: where DSNs arrive. */
let senders: TestMx;

beforeAll(async () => {
  world = await startDestAndSenders();
  ({ dns, port, dest, senders } = world);
});

afterAll(() => world.close());

async function setup() {
  const ts = await openSpool();
  const attempts: AttemptEvent[] = [];
  const delivery = createDelivery({
    spool: ts.spool,
    log,
    options: { hostname: 'relais.test', dnsServers: [dns.server], routeCacheMs: 0, port, allowPrivateMx: true, mtaSts: false, retryFirstMs: 50, retryMaxMs: 50 },
    observer: { onAttempt: (e) => attempts.push(e) },
  });
  delivery.start();
  return { ...ts, delivery, attempts };
}

const files = (dir: string) => ['messages', 'active', 'deferred', 'hold'].flatMap((d) => readdirSync(join(dir, d)));

describe('queue operations during an attempt', () => {
  for (const reply of ['451 4.3.0 Try again later', '550 5.1.1 No such user']) {
    test(`DELETE while DATA is in flight stays deleted (the attempt ends ${reply.slice(0, 3)})`, async () => {
      const s = await setup();
      let release!: () => void;
      dest.hold = new Promise<void>((r) => (release = r));
      dest.data = () => reply;
      const dsnsBefore = senders.received.length;
      const env = await enqueue(s.spool, { from: 'a@sender.test', to: ['r@dest.test', 's@dest.test'], subject: `supprimé ${reply}` });
      const started = dest.dataStarted;
      await waitFor(() => dest.dataStarted > started, 'DATA in flight');
      await deleteMessage(s.spool, s.spool.get(env.id)!, { bounce: false });
      release();
      await waitFor(() => s.attempts.length > 0, 'the attempt to end');
      await sleep(300); // a resurrected envelope would be retried after 50 ms
      expect(s.spool.get(env.id)).toBeUndefined();
      expect(s.spool.size).toBe(0);
      expect(files(s.dir)).toEqual([]);
      expect(s.attempts).toHaveLength(1);
      expect(senders.received.length).toBe(dsnsBefore);
      dest.hold = null;
      dest.data = () => undefined;
      await s.delivery.stop();
      await s.cleanup();
    });
  }

  test('hold while DATA is in flight stays on hold after a deferral', async () => {
    const s = await setup();
    let release!: () => void;
    dest.hold = new Promise<void>((r) => (release = r));
    dest.data = () => '451 4.3.0 Try again later';
    const env = await enqueue(s.spool, { from: 'a@sender.test', to: ['r@dest.test'], subject: 'retenu' });
    const started = dest.dataStarted;
    await waitFor(() => dest.dataStarted > started, 'DATA in flight');
    await holdMessage(s.spool, s.spool.get(env.id)!);
    release();
    await waitFor(() => s.attempts.length > 0, 'the attempt to end');
    await sleep(300);
    expect(s.spool.get(env.id)).toMatchObject({ state: 'hold', holdReason: 'held by an admin' });
    expect(s.attempts).toHaveLength(1);
    expect(readdirSync(join(s.dir, 'hold'))).toEqual([`${env.id}.json`]);
    dest.hold = null;
    dest.data = () => undefined;
    await s.delivery.stop();
    await s.cleanup();
  });
});
