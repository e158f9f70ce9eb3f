import { randomBytes } from 'node:crypto';

const ALPHABET = '0123456789BCDFGHJKLMNPQRSTVWXZ';

/**
 * Queue ids sort by arrival time (like Postfix's long queue ids) and are safe as file names:
 * 9 base-36 characters of milliseconds, then 7 random characters.
 */
export function newQueueId(now = Date.now()): string {
  const time = now.toString(36).toUpperCase().padStart(9, '0');
  const rnd = randomBytes(7);
  let tail = '';
  for (const b of rnd) tail += ALPHABET[b % ALPHABET.length];
  return time + tail;
}

export function isQueueId(s: string): boolean {
  return /^[0-9A-Z]{16}$/.test(s);
}
