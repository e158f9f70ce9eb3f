/**
 * First stage of the DATA stream: counts bytes against the size limit (past it, nothing more is
 * passed on, the rest is drained so the SMTP dialogue stays in sync) and handles bare LF / bare
 * CR, the raw material of SMTP smuggling. smtp-server only ends DATA on <CRLF>.<CRLF>; here a
 * lone LF or CR is either normalised to CRLF (default, like Postfix's
 * smtpd_forbid_bare_newline = normalize) or flagged so the intake rejects the message.
 */
const CR = 0x0d;
const LF = 0x0a;

export class DataGuard {
  bytes = 0;
  exceeded = false;
  bareNewline = false;
  private pendingCR = false;

  constructor(
    private readonly maxBytes: number,
    private readonly mode: 'normalize' | 'reject',
  ) {}

  /** The bytes to pass on for `chunk`: none once past the size limit. */
  take(chunk: Buffer): Buffer | undefined {
    this.bytes += chunk.length;
    if (this.exceeded || this.bytes > this.maxBytes) {
      this.exceeded = true;
      return undefined;
    }
    return this.fix(chunk);
  }

  /** At the end of DATA: a CR left over from the last chunk was a bare one. */
  end(): Buffer | undefined {
    if (!this.pendingCR || this.exceeded) return undefined;
    this.bareNewline = true;
    this.pendingCR = false;
    return this.mode === 'normalize' ? Buffer.from('\r\n') : Buffer.from('\r');
  }

  /** Fast path: a chunk without bare line ends is passed as is (the common case). */
  private fix(chunk: Buffer): Buffer {
    let needs = this.pendingCR;
    if (!needs) {
      for (let i = chunk.indexOf(LF); i !== -1; i = chunk.indexOf(LF, i + 1)) {
        if (i === 0 || chunk[i - 1] !== CR) {
          needs = true;
          break;
        }
      }
    }
    if (!needs) {
      for (let i = chunk.indexOf(CR); i !== -1; i = chunk.indexOf(CR, i + 1)) {
        if (i === chunk.length - 1 || chunk[i + 1] !== LF) {
          needs = true;
          break;
        }
      }
    }
    if (!needs) return chunk;
    const out: number[] = [];
    let i = 0;
    if (this.pendingCR) {
      this.pendingCR = false;
      if (chunk[0] === LF) {
        out.push(CR, LF);
        i = 1;
      } else this.bare(out, CR);
    }
    for (; i < chunk.length; i++) {
      const b = chunk[i]!;
      if (b === CR) {
        if (i === chunk.length - 1) {
          this.pendingCR = true;
        } else if (chunk[i + 1] === LF) {
          out.push(CR, LF);
          i++;
        } else this.bare(out, CR);
      } else if (b === LF) this.bare(out, LF);
      else out.push(b);
    }
    return Buffer.from(out);
  }

  private bare(out: number[], byte: number): void {
    this.bareNewline = true;
    if (this.mode === 'normalize') out.push(CR, LF);
    else out.push(byte);
  }
}
