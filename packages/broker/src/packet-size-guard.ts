import { Transform, type TransformCallback } from 'node:stream';

/**
 * Refuses MQTT packets larger than `maxBytes` from the fixed header alone, before the broker's
 * parser buffers them: a client announcing a 64 MB PUBLISH is disconnected after five bytes.
 * Passes every byte through unchanged otherwise.
 */
export class PacketSizeGuard extends Transform {
  /** Bytes of the current packet's body still to pass; -1 while reading a fixed header. */
  private remaining = -1;
  private header: number[] = [];

  constructor(
    private readonly maxBytes: number,
    private readonly onRefused: (announced: number) => void,
  ) {
    super();
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    let offset = 0;
    while (offset < chunk.length) {
      if (this.remaining > 0) {
        const take = Math.min(this.remaining, chunk.length - offset);
        this.remaining -= take;
        offset += take;
        if (this.remaining === 0) this.remaining = -1;
        continue;
      }
      // Fixed header: one type byte, then the remaining length in 1-4 bytes of 7 bits each.
      this.header.push(chunk[offset++]!);
      if (this.header.length === 1) continue;
      const last = this.header[this.header.length - 1]!;
      if (last & 0x80 && this.header.length < 5) continue;
      let length = 0;
      for (let i = this.header.length - 1; i >= 1; i--) length = length * 128 + (this.header[i]! & 0x7f);
      const malformed = Boolean(last & 0x80);
      this.header = [];
      if (malformed || length > this.maxBytes) {
        this.onRefused(malformed ? Infinity : length);
        callback(new Error(`MQTT packet of ${malformed ? 'a malformed' : length} bytes refused (limit ${this.maxBytes})`));
        return;
      }
      this.remaining = length === 0 ? -1 : length;
    }
    callback(null, chunk);
  }
}
