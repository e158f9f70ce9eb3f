/**
 * relay/intake/smtp-patches.ts replaces or wraps private members of smtp-server (a copy of
 * SMTPStream._feedDataStream with a faster scan, SMTPConnection.init without the fixed greeting
 * delay, wrappers of SMTPConnection.send and handler_EHLO). Those copies are only right for the code they were
 * taken from, so this test pins that code: the package version, and the exact source text of
 * every member the patches replace, wrap or call. An upgrade that changes any of them fails here,
 * before it can silently change what Relais answers. To upgrade: read the new smtp-server source
 * of each member listed below, port the change into smtp-patches.ts, then update
 * package.json's exact version and the fingerprints here.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { SMTPConnection } from 'smtp-server/lib/smtp-connection.js';
import { SMTPStream } from 'smtp-server/lib/smtp-stream.js';
import { describe, expect, it } from 'vitest';
import { applySmtpServerPatches } from '../../relay/intake/smtp-patches.js';

const VERSION = '3.21.6';

/** sha256 (first 16 hex digits) of each member's source text in smtp-server 3.21.6. */
const PATCHED = {
  SMTPStream: {
    _feedDataStream: '9d8b903f9a3a6354', // copied into smtp-patches.ts with the scan replaced
    _countDataBytes: '4b938ebe6c9971eb', // called by the copy
    _endDataMode: '7de0cf3d06716328', // called by the copy
  },
  SMTPConnection: {
    send: 'c33568c0111a58b2', // wrapped: a third argument `false` must keep the text's own RFC 3463 code
    _getEnhancedStatusCode: 'c0488b13c4262983', // what send does with that `false`
    init: '1265a7d7ca8f5510', // replaced: same steps, with the greeting delay made configurable
    connectionReady: '361a2b1de88fbf67', // called by the replacement
    _setListeners: 'cf07ab6f47db09ac', // called by the replacement
    handler_EHLO: '42394b3ad94f3deb', // wrapped: builds its feature list synchronously from _isSupported('AUTH')
    _isSupported: 'dbbb9a8918cf7201', // what that reads…
    _isDisabled: 'cc2032af5b084f2c', // …through session.disabledCommands, which the wrapper sets for the call
  },
} as const;

const PROTOTYPES = { SMTPStream: SMTPStream.prototype, SMTPConnection: SMTPConnection.prototype } as unknown as Record<keyof typeof PATCHED, Record<string, unknown>>;

const fingerprint = (f: unknown) => createHash('sha256').update(String(f)).digest('hex').slice(0, 16);

// The originals, read before the patches replace some of them.
const original = Object.fromEntries(
  Object.entries(PATCHED).map(([cls, members]) => [cls, Object.fromEntries(Object.keys(members).map((m) => [m, PROTOTYPES[cls as keyof typeof PATCHED][m]]))]),
) as Record<string, Record<string, unknown>>;

describe('smtp-server internals patched by relay/intake/smtp-patches.ts', () => {
  it(`is exactly version ${VERSION}, pinned in package.json`, () => {
    const pkgFile = createRequire(import.meta.url).resolve('smtp-server/package.json');
    expect((JSON.parse(readFileSync(pkgFile, 'utf8')) as { version: string }).version).toBe(VERSION);
    const ours = JSON.parse(readFileSync(join(dirname(new URL(import.meta.url).pathname), '../../package.json'), 'utf8')) as { dependencies: Record<string, string> };
    expect(ours.dependencies['smtp-server'], 'package.json must pin smtp-server exactly: smtp-patches.ts depends on its private code').toBe(VERSION);
  });

  for (const [cls, members] of Object.entries(PATCHED)) {
    for (const [member, want] of Object.entries(members)) {
      it(`${cls}.prototype.${member} is the code the patch was written for`, () => {
        const f = original[cls]![member];
        expect(typeof f, `${cls}.prototype.${member} is gone: smtp-patches.ts must be rewritten for this smtp-server`).toBe('function');
        expect(fingerprint(f), `${cls}.prototype.${member} changed: port the change into relay/intake/smtp-patches.ts, then update this fingerprint`).toBe(want);
      });
    }
  }

  it('a fresh SMTPStream has the state fields the copied _feedDataStream reads', () => {
    const s = new SMTPStream() as unknown as Record<string, unknown>;
    expect(s).toHaveProperty('_dataStream', null);
    expect(s).toHaveProperty('_lastBytes', false);
    expect(s).toHaveProperty('_atDataStart', false);
  });

  it('applies: the data scan and init are replaced; send keeps a reply\'s own enhanced code', () => {
    const conn = PROTOTYPES.SMTPConnection;
    // What the wrapper hands to smtp-server's send (recorded instead of written to a socket).
    const calls: unknown[][] = [];
    conn.send = (code: number, data: unknown, context?: unknown) => void calls.push([code, data, context]);
    applySmtpServerPatches();
    expect(PROTOTYPES.SMTPStream._feedDataStream).not.toBe(original.SMTPStream!._feedDataStream);
    expect(conn.init).not.toBe(original.SMTPConnection!.init);
    const send = conn.send as (code: number, data: unknown, context?: unknown) => void;
    send(550, '5.7.1 Refusé / Refused', 'MAIL FROM');
    send(451, ['4.7.1 Quota dépassé', 'ligne 2'], 'DATA');
    send(250, 'OK', 'MAIL FROM');
    expect(calls).toEqual([
      [550, '5.7.1 Refusé / Refused', false], // false: smtp-server adds no generic code of its own
      [451, ['4.7.1 Quota dépassé', 'ligne 2'], false],
      [250, 'OK', 'MAIL FROM'],
    ]);
  });
});
