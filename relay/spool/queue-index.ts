/**
 * The in-memory index of queued envelopes and the events that announce its changes, shared by
 * the spool (the queue's owner) and its client in the intake's thread (a copy of the owner's).
 */
import { EventEmitter } from 'node:events';
import type { Envelope, QueueState } from './envelope.js';

export interface SpoolEvents {
  queued: [Envelope];
  changed: [Envelope, QueueState | null];
  removed: [string];
}

export abstract class QueueIndex extends EventEmitter<SpoolEvents> {
  protected readonly index = new Map<string, Envelope>();

  /** Whether the message is still queued (not removed). */
  has(id: string): boolean {
    return this.index.has(id);
  }

  get(id: string): Envelope | undefined {
    return this.index.get(id);
  }

  /** Queued envelopes, optionally of one state, oldest first (queue ids grow with time). */
  list(state?: QueueState): Envelope[] {
    const all = [...this.index.values()].filter((e) => !state || e.state === state);
    return all.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  }

  counts(): Record<QueueState, number> {
    const c: Record<QueueState, number> = { active: 0, deferred: 0, hold: 0 };
    for (const e of this.index.values()) c[e.state]++;
    return c;
  }

  get size(): number {
    return this.index.size;
  }
}
