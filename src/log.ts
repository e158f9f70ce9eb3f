/**
 * Structured logs (pino, one JSON line per event). Secrets are redacted by key wherever they
 * appear, so a password, token or key can never reach the log by accident.
 */
import pino, { type Logger } from 'pino';

export type { Logger };

const REDACT = ['password', 'pass', 'token', 'authorization', 'secret', 'master_key', 'private_key', 'privateKey', 'password_hash'];

export function createLogger(level = 'info', destination?: pino.DestinationStream): Logger {
  const paths = REDACT.flatMap((k) => [k, `*.${k}`, `*.*.${k}`]);
  return pino(
    {
      level,
      base: { svc: 'relais' },
      timestamp: pino.stdTimeFunctions.isoTime,
      redact: { paths, censor: '[secret]' },
    },
    destination ?? pino.destination({ dest: 1, sync: false }),
  );
}
