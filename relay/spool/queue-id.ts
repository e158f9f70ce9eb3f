import { randomBytes } from 'node:crypto';

const ALPHABET = '0123456789BCDFGHJKLMNPQRSTVWXZ';

/**
 * Queue ids sort by arrival time (like Postfix's long queue ids) and are safe as file names:
 * 9 base-36 characters of milliseconds, then 7 random characters.
 */
export function newQueueId(now = Date.now()): string {
  const time = now.toString(36).toUpperCase().padStart(9, '0');
  let tail = '';
  for (let i = 0; i < 7; i++) tail += ALPHABET[randomByte() % ALPHABET.length];
  return time + tail;
}

// Random bytes drawn 4 KiB at a time: one call to the system's generator per ~580 ids instead of
// one per id.
let pool = Buffer.alloc(0);
let next = 0;
function randomByte(): number {
  if (next >= pool.length) {
    pool = randomBytes(4096);
    next = 0;
  }
  return pool[next++]!;
}

export function isQueueId(s: string): boolean {
  return /^[0-9A-Z]{16}$/.test(s);
}
