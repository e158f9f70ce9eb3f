/**
 * Delivered message files kept for reuse (`<spool>/free/`). Creating a file costs the kernel an
 * inode allocation and removing one an inode release; ext4 without a journal also skips, at each
 * allocation, every inode freed in the last seconds, which at a few hundred messages a second
 * made file creation one of the relay's largest costs. A small delivered file is instead renamed
 * into one of FREE_SLOTS fixed names here, and the intake's spare files (spare-files.ts) rename it
 * back into `messages/` under a new queue id and truncate it there.
 *
 * Safety does not rest on the order in which the disk sees these steps: a reused file enters
 * `messages/` with its old trailer until it is truncated, and recovery only keeps a file whose
 * trailer names the file's own queue id (spool.ts), so a crash between the rename and the
 * truncation leaves an orphan that recovery removes, never a message delivered twice under a new
 * id. The delivery thread only renames into free/, the intake only out of it, one file at a time:
 * a file renamed out is the intake's alone; a slot reused before the intake took it just replaces
 * (unlinks) the older file.
 *
 * Bounds: FREE_SLOTS files of at most FREE_MAX_BYTES each (16 MiB of disk); larger files are
 * unlinked as before. Recovery empties the directory.
 */
import { readdirSync, renameSync } from 'node:fs';
import { readdir, rename } from 'node:fs/promises';
import { join } from 'node:path';

export const FREE_SLOTS = 256;
export const FREE_MAX_BYTES = 64 * 1024;

/** The delivery side: puts a finished message's file into the next slot. */
export class FreeFiles {
  private slot = 0;

  constructor(private readonly dir: string) {}

  /**
   * Moves `path` (a finished message of `bytes` bytes) into a free slot: true when done, false
   * when the caller must unlink it (too large, or the rename failed).
   */
  recycle(path: string, bytes: number): boolean {
    if (bytes > FREE_MAX_BYTES) return false;
    const to = join(this.dir, String(this.slot));
    this.slot = (this.slot + 1) % FREE_SLOTS;
    try {
      // rename() on this thread, like the unlink() it replaces: a few microseconds of the kernel.
      renameSync(path, to);
      return true;
    } catch {
      return false;
    }
  }
}

/** How often, at most, an empty list reads the directory again. */
const RESCAN_MS = 100;

/**
 * The intake side: takes free files into `messages/`, from the names of the directory's last
 * reading (a name already gone is skipped). Both the spare files' batches and a message that
 * finds no spare take from the same list.
 */
export class FreeList {
  private names: string[] = [];
  private readAt = -Infinity;

  constructor(private readonly dir: string) {}

  /** Moves a free file to `to` (a new queue file's path): false when there is none. */
  takeSync(to: string, now = Date.now()): boolean {
    for (;;) {
      const name = this.next(now, () => readdirSync(this.dir));
      if (name === undefined) return false;
      try {
        renameSync(join(this.dir, name), to);
        return true;
      } catch {
        /* taken or replaced meanwhile: the next one */
      }
    }
  }

  /** takeSync on libuv's pool. */
  async take(to: string, now = Date.now()): Promise<boolean> {
    if (!this.names.length && now - this.readAt >= RESCAN_MS) {
      this.readAt = now;
      this.names = slots(await readdir(this.dir).catch(() => []));
    }
    for (let name = this.names.pop(); name !== undefined; name = this.names.pop()) {
      if (await rename(join(this.dir, name), to).then(() => true, () => false)) return true;
    }
    return false;
  }

  private next(now: number, read: () => string[]): string | undefined {
    if (!this.names.length && now - this.readAt >= RESCAN_MS) {
      this.readAt = now;
      try {
        this.names = slots(read());
      } catch {
        this.names = [];
      }
    }
    return this.names.pop();
  }
}

function slots(names: string[]): string[] {
  return names.filter((n) => /^\d+$/.test(n));
}
