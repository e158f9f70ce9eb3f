/**
 * Two narrow adjustments to smtp-server 3.21, applied once at start:
 * - Replies whose text already begins with an RFC 3463 code ("5.7.1 ...") are sent as is;
 *   otherwise smtp-server prefixes a generic code derived from the reply code alone (550 is
 *   always "5.1.1"), which would mislabel policy, quota and spool answers.
 * - The greeting delay: smtp-server waits 100 ms before every greeting (early-talker check,
 *   no option), which caps one-message-per-connection clients near 190 msg/s. Relais's
 *   clients are known MTAs; the delay is configurable (smtp.greeting_delay, default 0).
 * - AUTH in the EHLO answer: smtp-server advertises it whenever the command is enabled, also to
 *   a client that may only authenticate after STARTTLS; `hideAuthWhen` lets the intake leave it
 *   out there (the command itself still answers 538, so a client that tries anyway learns why).
 * - DATA scanning: smtp-server looks for "<LF>." with a JavaScript loop over every byte (11% of
 *   the relay's CPU on 100 KiB messages). The replacement below is the same function with that
 *   loop replaced by Buffer.indexOf; behaviour (terminator, dot-unstuffing, chunk edges) is
 *   unchanged and covered by the smuggling and dot-stuffing tests.
 */
import { SMTPConnection } from 'smtp-server/lib/smtp-connection.js';
import { SMTPStream } from 'smtp-server/lib/smtp-stream.js';
import type { SMTPServer, SMTPServerSession } from 'smtp-server';

const END_SEQUENCE = Buffer.from('\r\n.\r\n');
const DATA_START_END = Buffer.from('.\r\n');
const LF_DOT = Buffer.from('\n.');

interface StreamInternals {
  _dataStream: NodeJS.WritableStream & { writable: boolean; destroyed: boolean };
  _lastBytes: Buffer | false;
  _atDataStart: boolean;
  _countDataBytes(n: number): void;
  _endDataMode(chunk: Buffer | false, remainder: Buffer, done: () => void): void;
  _feedDataStream(chunk: Buffer, done: () => void): void;
}

function feedDataStream(this: StreamInternals, input: Buffer, done: () => void): void {
  const dataStream = this._dataStream;
  let chunk = input;
  if (this._lastBytes && this._lastBytes.length) {
    chunk = Buffer.concat([this._lastBytes, chunk], this._lastBytes.length + chunk.length);
    this._lastBytes = false;
  }
  let len = chunk.length;
  if (this._atDataStart && len >= 3 && chunk.subarray(0, 3).equals(DATA_START_END)) {
    this._endDataMode(false, chunk.subarray(3), done);
    return;
  }
  if (this._atDataStart && len >= 2 && chunk[0] === 0x2e && chunk[1] === 0x2e) {
    chunk = chunk.subarray(1);
    len--;
    this._atDataStart = false;
  }
  // Same candidates as the original loop: i in [2, len - 2) with chunk[i-1] = LF, chunk[i] = '.'.
  for (let j = chunk.indexOf(LF_DOT, 1); j !== -1 && j + 1 < len - 2; j = chunk.indexOf(LF_DOT, j + 1)) {
    const i = j + 1;
    if (i >= 2 && chunk.subarray(i - 2, i + 3).equals(END_SEQUENCE)) {
      const buf = chunk.subarray(0, i);
      this._countDataBytes(buf.length);
      this._endDataMode(buf, chunk.subarray(i + 3), done);
      return;
    }
    if (chunk[i + 1] === 0x2e) {
      const buf = chunk.subarray(0, i);
      this._lastBytes = false;
      this._countDataBytes(buf.length);
      if (dataStream.writable) dataStream.write(buf);
      const rest = chunk.subarray(i + 1);
      setImmediate(() => this._feedDataStream(rest, done));
      return;
    }
  }
  this._lastBytes = chunk.length < 4 ? chunk : chunk.subarray(chunk.length - 4);
  if (this._lastBytes.length >= chunk.length) return done();
  const buf = chunk.subarray(0, chunk.length - this._lastBytes.length);
  this._countDataBytes(buf.length);
  if (!dataStream.writable) return done();
  const handled = dataStream.write(buf);
  if (handled || dataStream.destroyed) return done();
  const onDrain = () => {
    dataStream.removeListener('drain', onDrain);
    dataStream.removeListener('close', onDrain);
    done();
  };
  dataStream.once('drain', onDrain);
  dataStream.once('close', onDrain);
}

const HIDE_AUTH = Symbol('relais.hideAuth');
type HideAuth = (session: SMTPServerSession, secure: boolean) => boolean;

/** EHLO on this server leaves AUTH out when `hide` says so (checked at every EHLO, so after STARTTLS too). */
export function hideAuthWhen(server: SMTPServer, hide: HideAuth): void {
  (server as unknown as Record<symbol, HideAuth>)[HIDE_AUTH] = hide;
}

const ENHANCED_PREFIX = /^[245]\.\d{1,3}\.\d{1,3} /;
let greetingDelayMs = 0;
let patched = false;

export function setGreetingDelay(ms: number): void {
  greetingDelayMs = ms;
}

export function applySmtpServerPatches(): void {
  if (patched) return;
  patched = true;
  (SMTPStream.prototype as unknown as StreamInternals)._feedDataStream = feedDataStream;
  const proto = SMTPConnection.prototype as unknown as {
    send(code: number, data: unknown, context?: unknown): void;
    init(): void;
    connectionReady(): void;
    _setListeners(cb: () => void): void;
    _server: { options: { maxClients?: number; disabledCommands: string[] }; connections: Set<unknown> } & Record<symbol, HideAuth | undefined>;
    name: string;
    secure: boolean;
    session: SMTPServerSession & { disabledCommands?: string[] };
    handler_EHLO(command: Buffer, callback: () => void): void;
  };
  const ehlo = proto.handler_EHLO;
  proto.handler_EHLO = function (this: typeof proto, command: Buffer, callback: () => void) {
    if (!this._server[HIDE_AUTH]?.(this.session, this.secure)) return ehlo.call(this, command, callback);
    // The feature list is built synchronously from _isSupported('AUTH'), which reads this.
    const prev = this.session.disabledCommands;
    this.session.disabledCommands = [...(Array.isArray(prev) ? prev : this._server.options.disabledCommands), 'AUTH'];
    try {
      ehlo.call(this, command, callback);
    } finally {
      this.session.disabledCommands = prev;
    }
  };
  const send = proto.send;
  proto.send = function (this: typeof proto, code: number, data: unknown, context?: unknown) {
    const first = Array.isArray(data) ? data[0] : data;
    if (typeof first === 'string' && ENHANCED_PREFIX.test(first)) return send.call(this, code, data, false);
    return send.call(this, code, data, context);
  };
  proto.init = function (this: typeof proto) {
    this._setListeners(() => {
      if (this._server.options.maxClients && this._server.connections.size > this._server.options.maxClients) {
        return this.send(421, '4.7.0 ' + this.name + ' Trop de connexions, réessayez plus tard / Too many connected clients, try again in a moment', false);
      }
      if (greetingDelayMs <= 0) return this.connectionReady();
      setTimeout(() => this.connectionReady(), greetingDelayMs).unref();
    });
  };
}
