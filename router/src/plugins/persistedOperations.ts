import { readFile } from 'node:fs/promises';
import type { GraphQLError } from 'graphql';
import { createGraphQLError } from 'graphql-yoga';
import type { RouterPlugin } from './routerPlugin.ts';

export interface PersistedOperationsOptions {
  /**
   * The persisted documents by their id: the `persisted-documents.json` that codegen's client
   * preset writes beside the typed client (`clients/typescript/`), sha256 of each document.
   */
  documents: Readonly<Record<string, string>>;
  /** Refuse every document that is not persisted (PERSISTED_QUERY_ONLY). Default false. */
  only?: boolean;
}

/** What an operation's request carries: its document, or the id of a persisted one. */
export interface OperationParams {
  query?: unknown;
  documentId?: unknown;
  extensions?: unknown;
}

/**
 * Persisted operations: a request may name a persisted document by its id instead of sending it,
 * as `extensions.persistedQuery.sha256Hash` (Apollo's protocol, version 1) or `documentId`
 * (GraphQL over HTTP's persisted documents; in the body, or the URL of a GET). With `only`, an
 * arbitrary document is refused, so that the router runs nothing but the operations of the
 * clients it was deployed with. An unknown id is PERSISTED_QUERY_NOT_FOUND (documents are never
 * registered by clients: the list is a safelist, not a cache).
 */
export class PersistedOperations {
  readonly #documents: ReadonlyMap<string, string>;
  readonly #only: boolean;
  /** How many documents were given. */
  readonly size: number;

  constructor(options: PersistedOperationsOptions) {
    // Ids are `sha256:<hex>` (GraphQL over HTTP's document identifiers); Apollo's protocol sends the hex alone.
    this.#documents = new Map(
      Object.entries(options.documents).flatMap(([id, document]) =>
        id.startsWith('sha256:')
          ? [
              [id, document],
              [id.slice(7), document],
            ]
          : [[id, document]],
      ),
    );
    this.#only = options.only ?? false;
    this.size = Object.keys(options.documents).length;
  }

  /**
   * What to run for these params: the persisted `query` they name, nothing to say (run their own
   * document), or the `error` to refuse them with.
   */
  resolve(params: OperationParams, url?: string): { query: string } | { error: GraphQLError } | undefined {
    const id = documentIdOf(params, url);
    if (id !== undefined) {
      const query = this.#documents.get(id);
      return query !== undefined
        ? { query }
        : { error: refusal('PERSISTED_QUERY_NOT_FOUND', `No persisted operation has the id "${id.slice(0, 80)}"`) };
    }
    if (this.#only && typeof params.query === 'string' && params.query !== '') {
      return {
        error: refusal(
          'PERSISTED_QUERY_ONLY',
          'This API runs only persisted operations: send the id of a document of persisted-documents.json (extensions.persistedQuery.sha256Hash or documentId) instead of the document',
        ),
      };
    }
    return undefined;
  }
}

/**
 * Persisted operations (see `PersistedOperations`): every operation's params are resolved before
 * they are parsed, an HTTP request's (POST, GET, SSE) when Yoga reads them (refusals with HTTP 400,
 * as Yoga's own parameter errors), a graphql-ws or SSE subscription's before it is shared, so that
 * equal subscriptions sent by id and by document share one execution.
 * Ours, not Yoga's usePersistedOperations: that one prefers a document to an id, refuses both together when
 * persisted-only, and resolves inside the runtime, after subscriptions would have been shared.
 */
export function usePersistedOperations(options: PersistedOperationsOptions | PersistedOperations): RouterPlugin {
  const persisted = options instanceof PersistedOperations ? options : new PersistedOperations(options);
  return {
    onParams: ({ params, request, setParams }) => {
      const resolved = persisted.resolve(params as OperationParams, request?.url);
      if (resolved === undefined) return;
      if ('error' in resolved)
        throw createGraphQLError(resolved.error.message, { extensions: { ...resolved.error.extensions, http: { status: 400 } } });
      const { documentId: _id, ...rest } = params as typeof params & { documentId?: unknown };
      setParams({ ...rest, query: resolved.query });
    },
    onOperationParams(params, url) {
      const resolved = persisted.resolve(params, url);
      if (resolved === undefined) return { params };
      return 'error' in resolved ? resolved : { params: { ...params, query: resolved.query } };
    },
  };
}

function documentIdOf(params: OperationParams, url: string | undefined): string | undefined {
  const persistedQuery = (params.extensions as { persistedQuery?: { version?: unknown; sha256Hash?: unknown } } | undefined)
    ?.persistedQuery;
  if (persistedQuery?.version === 1 && typeof persistedQuery.sha256Hash === 'string') return persistedQuery.sha256Hash;
  if (typeof params.documentId === 'string') return params.documentId;
  if (url?.includes('documentId=')) return new URL(url, 'http://localhost').searchParams.get('documentId') ?? undefined;
  return undefined;
}

function refusal(code: 'PERSISTED_QUERY_NOT_FOUND' | 'PERSISTED_QUERY_ONLY', message: string): GraphQLError {
  return createGraphQLError(message, { extensions: { code } });
}

/** Reads a `persisted-documents.json` (an object of document ids to documents); throws naming the file. */
export async function readPersistedDocuments(file: string): Promise<Record<string, string>> {
  const text = await readFile(file, 'utf8').catch((error: NodeJS.ErrnoException) => {
    throw new Error(`cannot read the persisted documents ${file}: ${error.code ?? error.message}`);
  });
  const value: unknown = JSON.parse(text);
  if (typeof value !== 'object' || value === null || Array.isArray(value) || !Object.values(value).every((v) => typeof v === 'string')) {
    throw new Error(`${file} must be a JSON object of document ids to GraphQL documents`);
  }
  return value as Record<string, string>;
}
