import type { TypedDocumentNode } from '@graphql-typed-document-node/core';
import { print, type GraphQLFormattedError } from 'graphql';

/** A GraphQL response with errors: their messages, and the `extensions.code` of each. */
export class GraphQLResponseError extends Error {
  override readonly name = 'GraphQLResponseError';

  constructor(readonly errors: readonly GraphQLFormattedError[]) {
    super(errors.map((error) => `${String(error.extensions?.['code'] ?? 'ERROR')}: ${error.message}`).join('; '));
  }

  /** The codes of the errors, e.g. `['ALREADY_EXISTS']`. */
  get codes(): string[] {
    return this.errors.map((error) => String(error.extensions?.['code'] ?? ''));
  }
}

/**
 * Who the app is: a token (a JWT of one tenant with its scopes, sent as `Authorization: Bearer`)
 * or a partner API key (`x-api-key`, open data only). Without either the app is anonymous and
 * reads open data only.
 */
export interface Credentials {
  token?: string;
  apiKey?: string;
}

/** The headers that carry `credentials`; graphql-ws takes the same as its `connectionParams`. */
export function credentialHeaders({ token, apiKey }: Credentials = {}): Record<string, string> {
  if (token) return { authorization: `Bearer ${token}` };
  if (apiKey) return { 'x-api-key': apiKey };
  return {};
}

/**
 * Runs one query or mutation over GraphQL over HTTP (a POST with a JSON body). The result and
 * the variables are typed by the generated document; any error in the response rejects with
 * {@link GraphQLResponseError}, since a partial result is of no use to this app.
 */
export async function graphqlHttp<Result, Variables>(
  url: string,
  document: TypedDocumentNode<Result, Variables>,
  variables: Variables,
  credentials?: Credentials,
): Promise<Result> {
  const response = await fetch(url, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      accept: 'application/graphql-response+json, application/json',
      ...credentialHeaders(credentials),
    },
    body: JSON.stringify({ query: print(document), variables }),
  });
  const contentType = response.headers.get('content-type') ?? '';
  if (!/json/.test(contentType)) throw new Error(`${url} answered ${response.status} with ${contentType || 'no content type'}`);
  const body = (await response.json()) as { data?: Result | null; errors?: GraphQLFormattedError[] };
  if (body.errors?.length) throw new GraphQLResponseError(body.errors);
  if (body.data == null) throw new Error(`${url} answered ${response.status} without data`);
  return body.data;
}
