/**
 * Connection slots and idle sessions. A slot is held from checkout until the session is closed
 * (idle sessions keep theirs), so open connections per provider and in total never exceed the
 * limits. When a limit is reached, an idle session of another destination is closed to make
 * room before waiting.
 */
import type { SmtpSession } from './session.js';

interface Idle {
  key: string;
  provider: string;
  session: SmtpSession;
  timer: NodeJS.Timeout;
}

export interface Lease {
  key: string;
  provider: string;
  /** A cached session to reuse; absent = open a new one (the slot is reserved). */
  session?: SmtpSession;
}

export class SessionPool {
  private total = 0;
  private readonly open = new Map<string, number>();
  private readonly idle: Idle[] = [];
  private waiters: Array<() => void> = [];

  constructor(
    private readonly maxTotal: number,
    private readonly idleTimeoutMs: number,
  ) {}

  async checkout(key: string, provider: string, maxConnections: number, signal: AbortSignal): Promise<Lease> {
    for (;;) {
      signal.throwIfAborted();
      const i = this.idle.findIndex((x) => x.key === key && x.session.usable);
      if (i >= 0) {
        const [x] = this.idle.splice(i, 1);
        clearTimeout(x!.timer);
        return { key, provider, session: x!.session };
      }
      const mine = this.open.get(provider) ?? 0;
      if (mine < maxConnections && this.total < this.maxTotal) {
        this.open.set(provider, mine + 1);
        this.total++;
        return { key, provider };
      }
      // Make room by closing an idle session that cannot serve this destination.
      const victim = this.idle.findIndex((x) => (mine >= maxConnections ? x.provider === provider : true));
      if (victim >= 0) {
        this.drop(this.idle.splice(victim, 1)[0]!);
        continue;
      }
      await new Promise<void>((resolve, reject) => {
        const onAbort = () => reject(signal.reason);
        signal.addEventListener('abort', onAbort, { once: true });
        this.waiters.push(() => {
          signal.removeEventListener('abort', onAbort);
          resolve();
        });
      });
    }
  }

  /** Returns the slot: keeps the session idle when `keep`, else closes it. */
  checkin(lease: Lease, session: SmtpSession | undefined, keep: boolean): void {
    if (session && keep && session.usable) {
      const entry: Idle = {
        key: lease.key,
        provider: lease.provider,
        session,
        timer: setTimeout(() => {
          const i = this.idle.indexOf(entry);
          if (i >= 0) this.drop(this.idle.splice(i, 1)[0]!);
        }, this.idleTimeoutMs),
      };
      entry.timer.unref();
      this.idle.push(entry);
      this.wake();
      return;
    }
    if (!session) return this.release(lease.provider);
    this.closeThenRelease(session, lease.provider);
  }

  private drop(x: Idle): void {
    clearTimeout(x.timer);
    this.closeThenRelease(x.session, x.provider);
  }

  /** The slot is free only once the connection is closed, so the far end never sees one too many. */
  private closeThenRelease(session: SmtpSession, provider: string): void {
    session.close();
    let released = false;
    const release = () => {
      if (released) return;
      released = true;
      clearTimeout(t);
      this.release(provider);
    };
    const t = setTimeout(release, 5000);
    t.unref();
    void session.ended.then(release);
  }

  private release(provider: string): void {
    this.open.set(provider, Math.max(0, (this.open.get(provider) ?? 1) - 1));
    this.total = Math.max(0, this.total - 1);
    this.wake();
  }

  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }

  closeIdle(): void {
    for (const x of this.idle.splice(0)) this.drop(x);
  }

  stats(): { total: number; idle: number; perProvider: Record<string, number> } {
    return { total: this.total, idle: this.idle.length, perProvider: Object.fromEntries(this.open) };
  }
}
