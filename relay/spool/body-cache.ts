/**
 * Bytes of small messages just committed, kept for their first delivery: a 2 KiB message is
 * otherwise opened, read and closed again a few milliseconds after it was written, three
 * thread-pool round trips per message. Bounded in count of bytes (oldest first out); the file
 * stays the source of truth (restart, eviction, large messages).
 */
export const CACHE_MESSAGE_MAX = 64 * 1024;

export class BodyCache {
  private readonly bodies = new Map<string, Buffer>();
  private bytes = 0;

  constructor(private readonly maxBytes = 16 * 1024 * 1024) {}

  set(id: string, body: Buffer): void {
    if (body.length > CACHE_MESSAGE_MAX || this.maxBytes === 0) return;
    this.delete(id);
    this.bodies.set(id, body);
    this.bytes += body.length;
    for (const [old, b] of this.bodies) {
      if (this.bytes <= this.maxBytes) break;
      this.bodies.delete(old);
      this.bytes -= b.length;
    }
  }

  get(id: string): Buffer | undefined {
    return this.bodies.get(id);
  }

  delete(id: string): void {
    const b = this.bodies.get(id);
    if (!b) return;
    this.bodies.delete(id);
    this.bytes -= b.length;
  }
}
