import type { ServerResponse } from 'node:http';
import type { GraphQLError } from 'graphql';

/** Answers an HTTP request the router refuses before GraphQL runs, with a GraphQL error as the body. */
export function sendGraphQLError(res: ServerResponse, status: number, error: GraphQLError, headers: Record<string, string> = {}): void {
  res.writeHead(status, { ...headers, 'content-type': 'application/json; charset=utf-8' });
  res.end(JSON.stringify({ errors: [error.toJSON()] }));
}
