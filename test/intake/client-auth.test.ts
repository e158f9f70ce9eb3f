/**
 * Credential checks of the client directory: every refusal costs one scrypt like a right password
 * does (unknown, disabled and password-less clients are checked against a dummy hash), and scrypt
 * runs in its own thread, leaving libuv's pool to the spool's file I/O.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { open as openFile } from 'node:fs/promises';
import { ClientDirectory } from '../../src/clients/directory.js';
import { hashPassword, ScryptBusyError, scryptRuns, verifyPassword } from '../../src/clients/password.js';
import { openStore } from '../../src/store/open.js';
import { TenantDirectory } from '../../src/tenants/index.js';

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

describe('client credentials', () => {
  it('runs exactly one scrypt per attempt, for known, unknown, disabled and password-less users', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'relais-auth-'));
    dirs.push(dataDir);
    const store = await openStore({ dataDir, prefix: 'auth:' });
    const pw = await hashPassword('juste');
    const tenants = await TenantDirectory.create({
      store,
      seed: {
        tenants: [{ id: 't', domains: ['t.example'] }],
        clients: [
          { name: 'mailcow', password_hash: pw, tenants: ['t'] },
          { name: 'ancien', password_hash: pw, tenants: ['t'], disabled: true },
          { name: 'reseau', networks: ['10.0.0.0/8'], tenants: ['t'] },
        ],
      },
    });
    const clients = new ClientDirectory(tenants);
    await clients.authenticate('chauffe', 'x'); // the dummy hash, made at construction, is ready
    for (const [user, password, ok] of [['mailcow', 'juste', true], ['mailcow', 'faux', false], ['inconnu', 'juste', false], ['ancien', 'juste', false], ['reseau', 'juste', false]] as const) {
      const before = scryptRuns();
      expect(Boolean(await clients.authenticate(user, password)), user).toBe(ok);
      expect(scryptRuns() - before, user).toBe(1);
    }
    await tenants.close();
    await store.close();
  });

  it('file I/O on libuv’s pool proceeds while scrypt verifications are queued', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'relais-auth-'));
    dirs.push(dataDir);
    const hash = await hashPassword('x');
    let done = 0;
    const checks = Array.from({ length: 12 }, () => verifyPassword('y', hash).then(() => done++));
    // 12 scrypts would hold the 4 pool threads for 3 rounds; here an fsync does not wait for them.
    const fh = await openFile(join(dataDir, 'f'), 'w');
    await fh.write('x');
    await fh.sync();
    await fh.close();
    expect(done).toBeLessThan(12);
    await Promise.all(checks);
    expect(done).toBe(12);
  });

  it('bounds the verifications waiting, and checks a known client ahead of the guesses', async () => {
    // A cheap hash (N=2) keeps this fast; the queue does not care about the cost.
    const cheap = `$scrypt$N=2,r=1,p=1$${Buffer.from('sel').toString('base64')}$${Buffer.alloc(32).toString('base64')}`;
    let lowDone = 0;
    const low = Array.from({ length: 65 }, () => verifyPassword('x', cheap).then(() => lowDone++));
    await expect(verifyPassword('x', cheap)).rejects.toBeInstanceOf(ScryptBusyError);
    const doneWhenHigh = await verifyPassword('x', cheap, true).then(() => lowDone);
    // Only the verification already running when it arrived went before it.
    expect(doneWhenHigh).toBeLessThanOrEqual(1);
    await Promise.all(low);
    expect(lowDone).toBe(65);
  });
});
