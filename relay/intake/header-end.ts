/**
 * Finds where a message's header section ends (the empty line) in a stream of chunks, looking at
 * each byte once: a CR LF CR LF state machine carried from one chunk to the next, which jumps
 * between CRs with the native search. Messages are CRLF by then (the data guard normalises bare
 * line ends, or the message is refused), so CR LF CR LF is the one terminator.
 */
const CR = 0x0d;
const LF = 0x0a;

export class HeaderEnd {
  /** Bytes examined so far (at most the bytes given). */
  scanned = 0;
  /**
   * How much of CR LF CR LF ends the bytes seen so far (0–3). It starts at 2, as if a line had
   * just ended: a message starting with an empty line has no headers at all.
   */
  private matched = 2;

  /**
   * Offset in `chunk` just after the CRLF that ends the last header line (where the empty line
   * starts; -1 or -2 when that CRLF was in an earlier chunk), or null when not there yet.
   */
  find(chunk: Buffer): number | null {
    let m = this.matched;
    let i = 0;
    while (i < chunk.length) {
      if (m === 0) {
        const cr = chunk.indexOf(CR, i);
        if (cr === -1) {
          this.scanned += chunk.length - i;
          this.matched = 0;
          return null;
        }
        this.scanned += cr - i;
        i = cr;
      }
      const b = chunk[i]!;
      this.scanned++;
      i++;
      if (b === CR) m = m === 2 ? 3 : 1;
      else if (b === LF && (m === 1 || m === 3)) m++;
      else m = 0;
      if (m === 4) return i - 2;
    }
    this.matched = m;
    return null;
  }
}
