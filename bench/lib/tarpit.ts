/**
 * A smarthost that accepts TCP connections and never speaks: the relay's delivery waits on it
 * without touching the spool, so accept-only sections measure intake alone (like Postfix with
 * defer_transports, where the queue manager never tries).
 */
import { createServer, type Socket } from 'node:net';

export async function startTarpit(): Promise<{ port: number; close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  const server = createServer((s) => {
    sockets.add(s);
    s.on('error', () => undefined);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: (server.address() as { port: number }).port,
    close: () =>
      new Promise<void>((r) => {
        sockets.forEach((s) => s.destroy());
        server.close(() => r());
      }),
  };
}
