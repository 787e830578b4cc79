/** Time between two heartbeats to each gateway, by default (the collector's `GatewayHeartbeat`). */
export const DEFAULT_HEARTBEAT_INTERVAL_MS = 10_000;

/**
 * How long after its daemon last answered (a heartbeat, a poll, anything) a gateway is still
 * ONLINE: three heartbeats, and 5 s for a beat's answer (its timeout is 3 s) and the clocks'
 * slack; 35 s at the default 10 s beat.
 */
export function onlineWindowMs(heartbeatIntervalMs = DEFAULT_HEARTBEAT_INTERVAL_MS): number {
  return 3 * heartbeatIntervalMs + 5_000;
}
