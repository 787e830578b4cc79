import type { RedisLiveBus } from '#telemetry';

/** The cursors of every reading of `gatewayId` the live bus holds, in stream order (what a follower of it is owed). */
export async function streamCursors(bus: RedisLiveBus, gatewayId: string): Promise<string[]> {
  const cursors: string[] = [];
  for (let after = '0-0'; ;) {
    const entries = await bus.readRange(after, 1_000);
    if (!entries.length) return cursors;
    for (const entry of entries)
      entry.readings.forEach((reading, index) => reading.gatewayId === gatewayId && cursors.push(`${entry.position}:${index}`));
    after = entries.at(-1)!.position;
  }
}
