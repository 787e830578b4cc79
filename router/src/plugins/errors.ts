import { GraphQLError, type GraphQLFormattedError } from 'graphql';
import { maskError as yogaMaskError } from 'graphql-yoga';

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

function isFormattedSubgraphError(error: unknown): error is GraphQLFormattedError & { extensions: { code: string } } {
  if (typeof error !== 'object' || error === null || error instanceof Error) return false;
  const { message, extensions } = error as Partial<GraphQLFormattedError>;
  return typeof message === 'string' && typeof extensions?.code === 'string' && /^[A-Z][A-Z0-9_]+$/.test(extensions.code) && extensions.code !== 'INTERNAL_SERVER_ERROR';
}
