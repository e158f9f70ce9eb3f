/**
 * Two narrow adjustments to smtp-server 3.21, applied once at start:
 * - Replies whose text already begins with an RFC 3463 code ("5.7.1 ...") are sent as is;
 *   otherwise smtp-server prefixes a generic code derived from the reply code alone (550 is
 *   always "5.1.1"), which would mislabel policy, quota and spool answers.
 * - The greeting delay: smtp-server waits 100 ms before every greeting (early-talker check,
 *   no option), which caps one-message-per-connection clients near 190 msg/s. Relais's
 *   clients are known MTAs; the delay is configurable (smtp.greeting_delay, default 0).
 */
import { SMTPConnection } from 'smtp-server/lib/smtp-connection.js';

const ENHANCED_PREFIX = /^[245]\.\d{1,3}\.\d{1,3} /;
let greetingDelayMs = 0;
let patched = false;

export function setGreetingDelay(ms: number): void {
  greetingDelayMs = ms;
}

export function applySmtpServerPatches(): void {
  if (patched) return;
  patched = true;
  const proto = SMTPConnection.prototype as unknown as {
    send(code: number, data: unknown, context?: unknown): void;
    init(): void;
    connectionReady(): void;
    _setListeners(cb: () => void): void;
    _server: { options: { maxClients?: number }; connections: Set<unknown> };
    name: string;
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
