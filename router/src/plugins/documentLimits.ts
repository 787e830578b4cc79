import { parse, type DocumentNode, type GraphQLError } from 'graphql';
import { createGraphQLError } from 'graphql-yoga';
import type { RouterPlugin } from './routerPlugin.ts';

/** Largest document by default: 64 KiB, room for 5000 tokens of 13 bytes each. */
export const DEFAULT_MAX_DOCUMENT_BYTES = 64 * 1024;

export interface DocumentLimitsOptions {
  /** Largest document (`query`), in UTF-8 bytes: checked before it is parsed, cached or looked up. Default 64 KiB. */
  maxDocumentBytes?: number;
  /** Most lexical tokens a document may have; parsing stops past it. Default 5000. */
  maxTokens?: number;
}

/**
 * Documents are bounded before any work, at every entry point (HTTP, each form of server-sent
 * events, graphql-ws): first their size in bytes, which costs nothing but their length, then
 * `parse` with `maxTokens`, which stops at the first token over. Only then are they normalised,
 * cached, looked up as persisted operations or planned: a 1 MB document is refused as cheaply as
 * a small one (`bench/hostile.ts`).
 */
export class DocumentLimits {
  readonly maxDocumentBytes: number;
  readonly maxTokens: number;

  constructor(options: DocumentLimitsOptions = {}) {
    this.maxDocumentBytes = options.maxDocumentBytes ?? DEFAULT_MAX_DOCUMENT_BYTES;
    this.maxTokens = options.maxTokens ?? 5000;
  }

  /** The QUERY_TOO_LARGE error of a document over `maxDocumentBytes`; undefined for anything else (not a string included). */
  sizeRefusal(query: unknown): GraphQLError | undefined {
    return typeof query === 'string' && this.#tooLarge(query) ? this.tooLarge() : undefined;
  }

  /** The QUERY_TOO_LARGE error, for a document known to be over the limit by its declared size. */
  tooLarge(): GraphQLError {
    return createGraphQLError(
      `The document is larger than ${this.maxDocumentBytes} bytes; send a smaller one, or the id of a persisted operation`,
      {
        extensions: { code: 'QUERY_TOO_LARGE', maxDocumentBytes: this.maxDocumentBytes },
      },
    );
  }

  /** Parses a document within both limits; throws the size refusal or the syntax error (too many tokens included). */
  parse(query: string): DocumentNode {
    const refused = this.sizeRefusal(query);
    if (refused) throw refused;
    return parse(query, { maxTokens: this.maxTokens });
  }

  #tooLarge(query: string): boolean {
    // UTF-8 takes at least one byte per UTF-16 unit and at most three: most documents are decided by their length.
    if (query.length > this.maxDocumentBytes) return true;
    if (query.length * 3 <= this.maxDocumentBytes) return false;
    return Buffer.byteLength(query, 'utf8') > this.maxDocumentBytes;
  }
}

/**
 * Documents bounded at every entry point before any work (see `DocumentLimits`): an HTTP request's
 * (POST, GET, SSE the runtime answers) when Yoga reads its params, before persisted operations are
 * looked up or anything parses it (over the limit: HTTP 400 QUERY_TOO_LARGE); a graphql-ws or SSE
 * subscription's before it is shared. List it before `usePersistedOperations`.
 */
export function useDocumentLimits(limits: DocumentLimits | DocumentLimitsOptions = {}): RouterPlugin {
  const documentLimits = limits instanceof DocumentLimits ? limits : new DocumentLimits(limits);
  return {
    onParams: ({ params }) => {
      const refused = documentLimits.sizeRefusal(params.query);
      if (refused) throw createGraphQLError(refused.message, { extensions: { ...refused.extensions, http: { status: 400 } } });
    },
    onOperationParams(params) {
      const refused = documentLimits.sizeRefusal(params.query);
      return refused ? { error: refused } : { params };
    },
  };
}
