import type { WebSocket } from 'ws';
import { CloseCode, closeReasons } from '../closeCodes.ts';

/** Close code of a connection whose client does not read fast enough: one graphql-ws' client retries. */
export const SLOW_CONSUMER_CLOSE_CODE = CloseCode.SlowConsumer;
/** Close reason that goes with {@link SLOW_CONSUMER_CLOSE_CODE}. */
export const SLOW_CONSUMER_CLOSE_REASON = closeReasons[CloseCode.SlowConsumer];

export interface SendQueueLimitOptions {
  /**
   * Most bytes a connection may have queued and not yet taken by the kernel (`ws`'s
   * `bufferedAmount`: its own queue plus the socket's write buffer) before the next frame. A
   * frame that would be written past it closes the connection instead. Default 8 MiB.
   */
  maxBufferedBytes?: number;
  /**
   * How long a closed slow connection may keep its queue while the close frame waits behind it;
   * then it is dropped without a close frame (the client sees 1006). Default 10 s.
   */
  closeGraceMs?: number;
  /** Told about every connection closed for being slow. */
  onSlowConsumer?: (socket: WebSocket, bufferedBytes: number) => void;
}

/**
 * Back-pressure per WebSocket connection: frames are written while the connection's send queue is
 * under `maxBufferedBytes`; past it the connection is closed with {@link SLOW_CONSUMER_CLOSE_CODE}
 * and nothing more is queued for it, so one client that stops reading costs the server at most the
 * limit (plus the kernel's buffers) for `closeGraceMs`. The client reconnects and resumes with
 * the cursor of the last reading it got.
 */
export class SendQueueLimit {
  readonly maxBufferedBytes: number;
  readonly closeGraceMs: number;
  readonly #onSlowConsumer?: SendQueueLimitOptions['onSlowConsumer'];
  #slowConsumers = 0;

  constructor(options: SendQueueLimitOptions = {}) {
    this.maxBufferedBytes = options.maxBufferedBytes ?? 8 << 20;
    this.closeGraceMs = options.closeGraceMs ?? 10_000;
    this.#onSlowConsumer = options.onSlowConsumer;
  }

  /** Connections closed for being slow since start. */
  get slowConsumers(): number {
    return this.#slowConsumers;
  }

  /**
   * Writes one text frame (UTF-8 bytes or a string) unless the connection is not open or over its
   * limit, in which case it is closed. Returns whether the frame was queued.
   */
  send(socket: WebSocket, frame: Buffer | string): boolean {
    if (socket.readyState !== socket.OPEN) return false;
    const buffered = socket.bufferedAmount;
    if (buffered > this.maxBufferedBytes) {
      this.#closeSlow(socket, buffered);
      return false;
    }
    socket.send(frame, { binary: false });
    return true;
  }

  #closeSlow(socket: WebSocket, buffered: number): void {
    this.#slowConsumers++;
    this.#onSlowConsumer?.(socket, buffered);
    socket.close(SLOW_CONSUMER_CLOSE_CODE, SLOW_CONSUMER_CLOSE_REASON);
    // `ws` waits 30 s for the close handshake; a client that reads nothing would keep the queue that long.
    const drop = setTimeout(() => socket.terminate(), this.closeGraceMs);
    drop.unref();
    socket.once('close', () => clearTimeout(drop));
  }
}
