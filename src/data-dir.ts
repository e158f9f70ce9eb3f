/**
 * The data dir holds the spool, the embedded store, TLS material and a lock file naming the
 * running relay (pid and API address), so CLI commands know whether to go through the API or
 * work on the files directly, and two relays never share one spool.
 */
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export interface RunningRelay {
  pid: number;
  api: string;
  startedAt: string;
}

const LOCK = 'relais.lock';

/** Whether a process with this pid runs (EPERM: it does, under another user). */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export function runningRelay(dataDir: string): RunningRelay | null {
  try {
    const info = JSON.parse(readFileSync(join(dataDir, LOCK), 'utf8')) as RunningRelay;
    return processAlive(info.pid) && info.pid !== process.pid ? info : null;
  } catch {
    return null;
  }
}

/** Takes the data dir for this process; throws if another live relay holds it. */
export function lockDataDir(dataDir: string, api: string): () => void {
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const other = runningRelay(dataDir);
  if (other) throw new Error(`data dir ${dataDir} is in use by a running relay (pid ${other.pid}); stop it or use another RELAIS_DATA_DIR`);
  const path = join(dataDir, LOCK);
  writeFileSync(path, JSON.stringify({ pid: process.pid, api, startedAt: new Date().toISOString() } satisfies RunningRelay), { mode: 0o600 });
  return () => {
    try {
      const info = JSON.parse(readFileSync(path, 'utf8')) as RunningRelay;
      if (info.pid === process.pid) rmSync(path, { force: true });
    } catch {
      /* already gone */
    }
  };
}

export function updateLock(dataDir: string, api: string): void {
  writeFileSync(join(dataDir, LOCK), JSON.stringify({ pid: process.pid, api, startedAt: new Date().toISOString() } satisfies RunningRelay), { mode: 0o600 });
}
