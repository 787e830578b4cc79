import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '#log';
import { RedisActuatorLog, type ActuatorCommandRecord, type ActuatorEventRecord, type ActuatorLogEntry } from '#registry';
import { startRedis, type RedisService } from '../support/services/redis.ts';

/**
 * An operator's bad day: Redis restarts (with its append-only file) under the actuator log. A
 * command recorded while it is down is recorded once it is back, the trail keeps what was before,
 * and a listener (a live `actuatorEvents` subscription) hears what comes after, without being told
 * to subscribe again.
 */
let redis: RedisService;
const ACTUATOR = 'austin-gw01.21.output1';
let commands = 0;

beforeAll(async () => {
  redis = await startRedis({ appendonly: true });
});

afterAll(async () => {
  await redis?.stop();
});

function confirmed(): ActuatorEventRecord {
  const command: ActuatorCommandRecord = {
    id: `cmd-${++commands}`,
    actuatorId: ACTUATOR,
    gatewayId: 'austin-gw01',
    tenant: 'austin-summit',
    kind: 'BINARY_OUTPUT',
    requestedBy: 'operator',
    requestedAt: new Date().toISOString(),
    on: true,
    outcome: 'CONFIRMED',
  };
  return {
    kind: 'CONFIRMED',
    time: new Date().toISOString(),
    actuatorId: ACTUATOR,
    gatewayId: 'austin-gw01',
    tenant: 'austin-summit',
    command,
  };
}

describe('the Redis actuator log across a Redis restart', () => {
  it('records what was appended while Redis was down, keeps the trail, and its listeners hear on', async () => {
    const log = new RedisActuatorLog({ url: redis.url, logger: silentLogger, prefix: '{test:restart}', blockMs: 200 });
    try {
      const heard: ActuatorLogEntry[] = [];
      log.subscribe((entry) => heard.push(entry));
      await log.listening();
      const before = await log.append(confirmed());

      let during: Promise<ActuatorLogEntry> | undefined;
      await redis.restart({
        whileStopped: async () => {
          during = log.append(confirmed());
          await new Promise((resolve) => setTimeout(resolve, 300));
        },
      });
      const recorded = await during!;
      const after = await log.append(confirmed());

      const ids = [before, recorded, after].map((entry) => entry.event.command!.id);
      expect((await log.audit(ACTUATOR, { last: 10 })).map((c) => c.id)).toEqual([...ids].reverse());
      const deadline = Date.now() + 10_000;
      while (heard.length < 3 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
      expect(heard.map((entry) => entry.event.command!.id)).toEqual(ids);
    } finally {
      await log.close();
    }
  }, 30_000);
});
