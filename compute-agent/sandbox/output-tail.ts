import { sanitizeLogText } from '../../shared/contracts/text';

/** Keeps the last `limit` bytes of a stream of chunks, and how much was dropped. */
export class OutputTail {
  private chunks: Buffer[] = [];
  private size = 0;
  dropped = 0;

  constructor(private readonly limit: number) {}

  push(chunk: Buffer): void {
    this.chunks.push(chunk);
    this.size += chunk.length;
    while (this.size > this.limit && this.chunks.length > 0) {
      const first = this.chunks[0]!;
      const excess = this.size - this.limit;
      if (first.length <= excess) {
        this.chunks.shift();
        this.size -= first.length;
        this.dropped += first.length;
      } else {
        this.chunks[0] = first.subarray(excess);
        this.size -= excess;
        this.dropped += excess;
      }
    }
  }

  /** The tail as text, with control characters other than newline and tab replaced (an algo's output is not trusted). */
  text(): string {
    const body = sanitizeLogText(Buffer.concat(this.chunks).toString('utf8'));
    return this.dropped > 0 ? `[… ${this.dropped} earlier bytes dropped]\n${body}` : body;
  }
}
