import type { GraphQLError } from 'graphql';
import { createGraphQLError } from 'graphql-yoga';
import { sendGraphQLError } from './httpError.ts';
import type { RouterPlugin } from './routerPlugin.ts';

/**
 * The default largest request body and graphql-ws message: four times the largest document
 * (`MAX_DOCUMENT_BYTES`, 64 KiB) leaves room for variables, and anything larger is refused from
 * its length alone, before a byte of it is decoded (a 1 MB body decoded and parsed costs the
 * router 13-27 ms of CPU, bench/hostile.ts).
 */
export const MAX_BODY_BYTES = 256 * 1024;

export interface BodyLimitOptions {
  /** Largest HTTP request body, in bytes. Default `MAX_BODY_BYTES` (256 KiB). */
  maxBytes?: number;
}

/**
 * Request bodies over `maxBytes` are refused with HTTP 413 (REQUEST_ENTITY_TOO_LARGE): at once by
 * their `Content-Length`, before anything reads them (the connection closes after the answer), and
 * while they are read when they come chunked without one.
 * Ours, not the engine's: Yoga's own limit is 25 MB and the gateway runtime does not let it be set.
 */
export function useBodyLimit(options: BodyLimitOptions = {}): RouterPlugin {
  const maxBytes = options.maxBytes ?? MAX_BODY_BYTES;
  return {
    onAdmitRequest(req, res) {
      const length = req.headers['content-length'];
      if (length === undefined || !/^\d+$/.test(length) || Number(length) <= maxBytes) return true;
      sendGraphQLError(res, 413, bodyTooLarge(maxBytes), { connection: 'close' });
      return false;
    },
    onRequestParse({ request, requestParser, setRequestParser, fetchAPI }) {
      if (!requestParser || !request.body || request.headers.has('content-length')) return;
      setRequestParser(async (req) => {
        const chunks: Uint8Array[] = [];
        let size = 0;
        for await (const chunk of req.body as unknown as AsyncIterable<Uint8Array>) {
          size += chunk.byteLength;
          if (size > maxBytes) throw bodyTooLarge(maxBytes, { http: { status: 413 } });
          chunks.push(chunk);
        }
        return requestParser(new fetchAPI.Request(req.url, { method: req.method, headers: req.headers, body: Buffer.concat(chunks) }));
      });
    },
  };
}

/** The REQUEST_ENTITY_TOO_LARGE error of a body over `maxBytes` (also an SSE body read by the router). */
export function bodyTooLarge(maxBytes: number, extensions: Record<string, unknown> = {}): GraphQLError {
  return createGraphQLError(`The request body is larger than ${maxBytes} bytes`, {
    extensions: { ...extensions, code: 'REQUEST_ENTITY_TOO_LARGE', maxBytes },
  });
}
