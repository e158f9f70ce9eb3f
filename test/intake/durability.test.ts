/**
 * "Nothing accepted is lost": SIGKILL under load, disk full, graceful SIGTERM. The relay runs as a
 * real process; deliveries go to a closed smarthost port so accepted mail stays queued.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { mkdirSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { RawSmtp } from '../helpers/raw-smtp.js';
import { startRelay, tempDir, type RelayProcess } from '../helpers/relay-process.js';
import { spooledBody, spooledEnvelopes, spoolFileCount } from '../helpers/spool-files.js';

const NO_DELIVERY = { RELAIS_SMARTHOST: '127.0.0.1:9', RELAIS_QUEUE_RETRY_FIRST: '1h' };

/** Sends messages on one connection until told to stop or the connection dies; records acks. */
async function sender(port: number, tag: string, acked: Map<string, string>, stop: () => boolean): Promise<void> {
  let n = 0;
  while (!stop()) {
    let c: RawSmtp;
    try {
      c = await RawSmtp.connect(port);
      await c.reply(2000);
      await c.command('EHLO load.test');
    } catch {
      await new Promise((r) => setTimeout(r, 20));
      continue;
    }
    try {
      while (!stop()) {
        const marker = `${tag}-${n++}`;
        await c.command('MAIL FROM:<load@laruche.example>');
        await c.command('RCPT TO:<dest@example.org>');
        const d = await c.command('DATA');
        if (d.code !== 354) break;
        c.send(`Subject: ${marker}\r\nX-Marker: ${marker}\r\n\r\n${'body line\r\n'.repeat(50)}.\r\n`);
        const r = await c.reply(5000);
        if (r.code === 250) acked.set(marker, /queued as (\S+)/.exec(r.text)![1]!);
      }
    } catch {
      /* connection killed with the relay */
    } finally {
      c.close();
    }
  }
}

describe('durability', () => {
  const relays: RelayProcess[] = [];
  afterAll(async () => {
    for (const r of relays) await r.kill9();
  });

  it('every message that got a 250 survives repeated SIGKILLs under load, exactly once', async () => {
    const dataDir = join(tempDir(), 'data');
    const acked = new Map<string, string>();
    let relay = await startRelay({ dataDir, env: NO_DELIVERY });
    relays.push(relay);
    let port = relay.smtpPort;
    for (let round = 0; round < 4; round++) {
      let stopped = false;
      const workers = Array.from({ length: 8 }, (_, i) => sender(port, `r${round}w${i}`, acked, () => stopped));
      await new Promise((r) => setTimeout(r, 300 + Math.random() * 400));
      await relay.kill9();
      stopped = true;
      await Promise.all(workers);
      relay = await startRelay({ dataDir, env: { ...NO_DELIVERY, RELAIS_SMTP_LISTEN: `127.0.0.1:${port}` } });
      relays.push(relay);
      port = relay.smtpPort;
    }
    expect(acked.size).toBeGreaterThan(50);
    const envs = spooledEnvelopes(dataDir);
    const byId = new Map(envs.map((e) => [e.id, e]));
    const seen = new Map<string, number>();
    for (const e of envs) {
      const marker = /X-Marker: (\S+)/.exec(spooledBody(dataDir, e.id))?.[1];
      if (marker) seen.set(marker, (seen.get(marker) ?? 0) + 1);
    }
    for (const [marker, id] of acked) {
      expect(byId.has(id), `acknowledged ${marker} (${id}) is in the spool`).toBe(true);
      expect(seen.get(marker), marker).toBe(1);
    }
    // No half-written leftovers after recovery: every body has its envelope and vice versa.
    expect(spoolFileCount(dataDir, 'messages')).toBe(envs.length);
    // The running relay retries the recovered mail (the smarthost refuses): each retry rewrites an
    // envelope through tmp/ for a moment, so what must hold is that tmp/ empties, not that it is
    // empty at one instant.
    const deadline = Date.now() + 10_000;
    while (readdirSync(join(dataDir, 'spool', 'tmp')).length && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    expect(readdirSync(join(dataDir, 'spool', 'tmp'))).toEqual([]);
  });

  it('disk full: answers 452 4.3.1, keeps nothing half-written, accepts again once space is back', async () => {
    const dataDir = join(tempDir(), 'data');
    const spoolDir = join(dataDir, 'spool');
    mkdirSync(spoolDir, { recursive: true });
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=600k', 'tmpfs', spoolDir]);
    try {
      const relay = await startRelay({ dataDir, env: NO_DELIVERY });
      relays.push(relay);
      const c = await RawSmtp.connect(relay.smtpPort);
      await c.reply();
      await c.command('EHLO full.test');
      let full: { code: number; text: string } | undefined;
      for (let i = 0; i < 60 && !full; i++) {
        await c.command('MAIL FROM:<a@laruche.example>');
        await c.command('RCPT TO:<b@example.org>');
        await c.command('DATA');
        c.send(`Subject: fill ${i}\r\n\r\n${'z'.repeat(1000)}\r\n`.repeat(40) + '.\r\n');
        const r = await c.reply();
        if (r.code !== 250) full = r;
      }
      expect(full?.code).toBe(452);
      expect(full?.text).toMatch(/^4\.3\.1 /);
      const envs = spooledEnvelopes(dataDir);
      expect(spoolFileCount(dataDir, 'messages')).toBe(envs.length);
      // Free space by removing queued mail the way an admin would (not via the relay): restart after.
      await relay.stop();
      // Delivery attempts rewrite envelopes through tmp/ while mail is received; once they have
      // finished (stop waits for them), none is left half-written, disk full or not.
      expect(readdirSync(join(spoolDir, 'tmp'))).toEqual([]);
      for (const e of envs.slice(0, 5)) {
        execFileSync('rm', ['-f', join(spoolDir, 'active', `${e.id}.json`), join(spoolDir, 'deferred', `${e.id}.json`), join(spoolDir, 'messages', `${e.id}.eml`)]);
      }
      const again = await startRelay({ dataDir, env: NO_DELIVERY });
      relays.push(again);
      const c2 = await RawSmtp.connect(again.smtpPort);
      await c2.reply();
      await c2.command('EHLO full.test');
      await c2.command('MAIL FROM:<a@laruche.example>');
      await c2.command('RCPT TO:<b@example.org>');
      await c2.command('DATA');
      c2.send('Subject: small\r\n\r\nsmall\r\n.\r\n');
      expect((await c2.reply()).code).toBe(250);
      c2.close();
      await again.stop();
    } finally {
      execFileSync('umount', ['-l', spoolDir]);
    }
  });

  it('SIGTERM stops intake but finishes a transaction in DATA', async () => {
    const relay = await startRelay({ env: NO_DELIVERY });
    relays.push(relay);
    const c = await RawSmtp.connect(relay.smtpPort);
    await c.reply();
    await c.command('EHLO term.test');
    await c.command('MAIL FROM:<a@laruche.example>');
    await c.command('RCPT TO:<b@example.org>');
    await c.command('DATA');
    c.send('Subject: in flight\r\n\r\nfirst half\r\n');
    relay.child.kill('SIGTERM');
    await new Promise((r) => setTimeout(r, 300));
    await expect(RawSmtp.connect(relay.smtpPort)).rejects.toThrow();
    c.send('second half\r\n.\r\n');
    const r = await c.reply();
    expect(r.code).toBe(250);
    expect(await relay.stop()).toBe(0);
    const env = spooledEnvelopes(relay.dataDir)[0]!;
    expect(spooledBody(relay.dataDir, env.id)).toContain('first half\r\nsecond half\r\n');
  });
});
