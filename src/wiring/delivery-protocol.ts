/**
 * Messages between the main thread (intake, policies, API, stats) and the delivery thread
 * (queue owner: spool index and state changes, scheduler, shaping, SMTP out). One port, so each
 * side sees the other's messages in the order they were sent.
 */
import type { AttemptEvent, RecipientEvent, RestrictionView, ShaperEvent, WarmupView } from '../../relay/delivery/index.js';
import type { Envelope, QueueState } from '../../relay/spool/envelope.js';
import type { AdminPatch, QueueChanges } from '../../relay/spool/spool-client.js';
import type { RelaisConfig } from '../config/config.js';

export interface DeliveryThreadData {
  config: RelaisConfig;
}

/** Observer events forwarded to the main thread, where stats, Listmonk and alerts live. */
export type ObserverEvent =
  | { k: 'attempt'; e: AttemptEvent }
  | { k: 'final'; e: RecipientEvent }
  | { k: 'delivered'; e: RecipientEvent }
  | { k: 'shaping'; e: ShaperEvent };

export type Call =
  | { op: 'update'; id: string; patch: AdminPatch; state: QueueState | undefined }
  | { op: 'remove'; id: string }
  | { op: 'shaping' }
  | { op: 'clearShaping'; provider: string; pool: string | undefined }
  | { op: 'stop'; timeoutMs: number };

export interface CallResults {
  update: Envelope | null;
  remove: void;
  shaping: { restrictions: RestrictionView[]; warmups: WarmupView[] };
  clearShaping: number;
  stop: void;
}

export type ToDelivery =
  | { t: 'queued'; messages: Array<{ env: Envelope; body?: Uint8Array }> }
  | { t: 'start'; forward: ObserverEvent['k'][] }
  | { t: 'operatorRetry'; id: string }
  | { t: 'call'; n: number; call: Call };

export type FromDelivery =
  | { t: 'ready'; envelopes: Envelope[] }
  | { t: 'events'; changes: QueueChanges; observed: ObserverEvent[]; log: string }
  | { t: 'reply'; n: number; value?: unknown; error?: string };
