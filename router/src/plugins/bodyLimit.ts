import type { IncomingMessage } from 'node:http';
import type { GraphQLError } from 'graphql';
import { createGraphQLError, type Plugin } from 'graphql-yoga';

/**
 * The default largest request body and graphql-ws message: four times the largest document
 * (`MAX_DOCUMENT_BYTES`, 64 KiB) leaves room for variables, and anything larger is refused from
 * its length alone, before a byte of it is decoded (a 1 MB body decoded and parsed costs the
 * router 13-27 ms of CPU, bench/hostile.ts).
 */
export const MAX_BODY_BYTES = 256 * 1024;

/**
 * Request bodies over `maxBytes` are refused with HTTP 413 (REQUEST_ENTITY_TOO_LARGE): at once
 * by their `Content-Length` (`bodySizeRefusal`, before anything reads them), and while they are
 * read when they come chunked without one (`useBodyLimit`). Yoga's own limit is 25 MB and the
 * gateway runtime does not let it be set.
 */
export function bodySizeRefusal(req: IncomingMessage, maxBytes: number): GraphQLError | undefined {
  const length = req.headers['content-length'];
  if (length === undefined || !/^\d+$/.test(length) || Number(length) <= maxBytes) return undefined;
  return tooLarge(maxBytes);
}

/** The Yoga plugin: a body without `Content-Length` is read up to `maxBytes` before it is parsed. */
export function useBodyLimit(maxBytes: number): Plugin {
  return {
    onRequestParse({ request, requestParser, setRequestParser, fetchAPI }) {
      if (!requestParser || !request.body || request.headers.has('content-length')) return;
      setRequestParser(async (req) => {
        const chunks: Uint8Array[] = [];
        let size = 0;
        for await (const chunk of req.body as unknown as AsyncIterable<Uint8Array>) {
          size += chunk.byteLength;
          if (size > maxBytes) throw tooLarge(maxBytes, { http: { status: 413 } });
          chunks.push(chunk);
        }
        return requestParser(new fetchAPI.Request(req.url, { method: req.method, headers: req.headers, body: Buffer.concat(chunks) }));
      });
    },
  };
}

function tooLarge(maxBytes: number, extensions: Record<string, unknown> = {}): GraphQLError {
  return createGraphQLError(`The request body is larger than ${maxBytes} bytes`, {
    extensions: { ...extensions, code: 'REQUEST_ENTITY_TOO_LARGE', maxBytes },
  });
}
