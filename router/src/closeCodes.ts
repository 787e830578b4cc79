/**
 * The close codes the router gives graphql-ws connections for reasons of its own.
 *
 * graphql-ws keeps 4400-4599 (HTTP statuses + 4000: 4400 bad request, 4401 unauthorized, 4429 too
 * many initialisation requests, 4500, ...), 4004, 4005 and 4499 for itself, and its client never
 * retries most of them (`shouldRetryConnectOrThrow` in graphql-ws' client: 4401 and 4429 among
 * them), nor 1000-1999 but for 1001, 1005, 1006, 1012-1014. Ours are in 4800-4899, which it does not
 * use, so the unmodified client with its default `retryAttempts`/`shouldRetry` reconnects after
 * them; a client that subscribes again with the `cursor` of its last reading as `after` loses
 * nothing. A missing or bad token at connection time stays graphql-ws' 4401: retrying with the same
 * one would not help.
 */
export enum CloseCode {
  /** The connection's send queue passed its limit: reconnect and resume with your last cursor. */
  SlowConsumer = 4801,
  /** The token the connection was opened with expired: reconnect with a fresh one (`connectionParams` as a function). */
  TokenExpired = 4802,
  /**
   * The router lost its connection to a subgraph (it died or restarted) while subscriptions used
   * it: reconnect and resume with your last cursor (what was sent meanwhile is replayed).
   */
  UpstreamLost = 4803,
}

/** The reason sent with each {@link CloseCode} (at most 123 bytes, as a close frame allows). */
export const closeReasons: Readonly<Record<CloseCode, string>> = {
  [CloseCode.SlowConsumer]: 'slow consumer: resume with your last cursor',
  [CloseCode.TokenExpired]: 'token expired: reconnect with a fresh token',
  [CloseCode.UpstreamLost]: 'a subgraph went away: reconnect and resume with your last cursor',
};
