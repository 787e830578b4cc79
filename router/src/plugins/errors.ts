import { GraphQLError, type GraphQLFormattedError } from 'graphql';
import { createGraphQLError, maskError as yogaMaskError } from 'graphql-yoga';

/**
 * The router's error masking: what a subgraph answered on purpose (an error with a
 * SCREAMING_SNAKE `extensions.code`) reaches the client as it is; anything else is masked by
 * Yoga's default (the original message only in development).
 *
 * Needed because the Rust planner hands subscription errors over as plain objects, which the
 * default masking cannot tell from crashes.
 */
export function maskRouterError(error: unknown, message: string, isDev?: boolean): Error {
  if (isFormattedSubgraphError(error)) {
    return new GraphQLError(error.message, { path: error.path, extensions: error.extensions });
  }
  return yogaMaskError(error, message, isDev);
}

/** What a subgraph run in development may add to an error, and no client of production may see. */
const INTERNAL_DETAILS = ['originalMessage', 'originalError', 'stacktrace', 'exception'];

/**
 * Production's masking: as `maskRouterError` without the original message of anything masked,
 * and without the internal details of errors that pass through (a subgraph started with
 * `exposeInternalErrors` by mistake).
 */
export function maskProductionError(error: unknown, message: string): Error {
  const masked = maskRouterError(error, message, false) as Partial<GraphQLError> & Error;
  // By shape: errors may come from another instance of graphql (instanceof would miss them).
  const details = masked.extensions;
  if (!details || !INTERNAL_DETAILS.some((key) => key in details)) return masked;
  const extensions = Object.fromEntries(Object.entries(details).filter(([key]) => !INTERNAL_DETAILS.includes(key)));
  return createGraphQLError(masked.message, { nodes: masked.nodes, source: masked.source, positions: masked.positions, path: masked.path, extensions });
}

function isFormattedSubgraphError(error: unknown): error is GraphQLFormattedError & { extensions: { code: string } } {
  if (typeof error !== 'object' || error === null || error instanceof Error) return false;
  const { message, extensions } = error as Partial<GraphQLFormattedError>;
  return typeof message === 'string' && typeof extensions?.code === 'string' && /^[A-Z][A-Z0-9_]+$/.test(extensions.code) && extensions.code !== 'INTERNAL_SERVER_ERROR';
}
