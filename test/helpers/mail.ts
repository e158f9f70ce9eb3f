/** nodemailer transports for tests, with Nagle off (nodemailer leaves it on: ~40 ms per message). */
import { connect } from 'node:net';
import nodemailer from 'nodemailer';

export function transport(port: number, opts: { auth?: { user: string; pass: string }; secure?: boolean; ignoreTLS?: boolean; requireTLS?: boolean; pool?: boolean } = {}) {
  return nodemailer.createTransport({
    host: '127.0.0.1',
    port,
    secure: opts.secure ?? false,
    ignoreTLS: opts.ignoreTLS ?? false,
    requireTLS: opts.requireTLS ?? false,
    auth: opts.auth,
    tls: { rejectUnauthorized: false },
    pool: opts.pool ?? false,
    getSocket: (_o: unknown, cb: (err: Error | null, s?: { connection: import('node:net').Socket }) => void) => {
      const socket = connect(port, '127.0.0.1');
      socket.setNoDelay(true);
      socket.once('connect', () => cb(null, { connection: socket }));
      socket.once('error', (err) => cb(err));
    },
  } as never);
}
