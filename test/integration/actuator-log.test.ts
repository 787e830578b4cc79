import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '#log';
import {
  compareLogPositions,
  MemoryActuatorLog,
  RedisActuatorLog,
  type ActuatorCommandRecord,
  type ActuatorEventRecord,
  type ActuatorLog,
  type ActuatorLogEntry,
  type ActuatorLogOptions,
} from '#registry';
import { startRedis, type RedisService } from '../support/services/redis.ts';

/**
 * Both `ActuatorLog`s must keep the same audit trails, states and event stream: the memory one
 * (the embedded default) and the Redis one against a real redis-server.
 */
let redis: RedisService;
const opened: ActuatorLog[] = [];
let prefixes = 0;

beforeAll(async () => {
  redis = await startRedis();
});

afterAll(async () => {
  for (const log of opened) await log.close().catch(() => {});
  await redis?.stop();
});

const implementations: Array<[string, (options?: ActuatorLogOptions) => ActuatorLog]> = [
  ['memory', (options) => track(new MemoryActuatorLog(options))],
  [
    'redis',
    (options) =>
      track(
        new RedisActuatorLog({ url: redis.url, logger: silentLogger, prefix: `{test:actuators:${++prefixes}}`, blockMs: 200, ...options }),
      ),
  ],
];

function track<T extends ActuatorLog>(log: T): T {
  opened.push(log);
  return log;
}

const ACTUATOR = 'austin-gw01.21.output0';
let commands = 0;

function command(outcome: ActuatorCommandRecord['outcome'], overrides: Partial<ActuatorCommandRecord> = {}): ActuatorCommandRecord {
  return {
    id: `cmd-${++commands}`,
    actuatorId: ACTUATOR,
    gatewayId: 'austin-gw01',
    tenant: 'austin-summit',
    kind: 'BINARY_OUTPUT',
    requestedBy: 'operator',
    requestedAt: new Date(1_700_000_000_000 + commands * 1000).toISOString(),
    on: true,
    outcome,
    ...overrides,
  };
}

function event(kind: ActuatorEventRecord['kind'], cmd?: ActuatorCommandRecord, on?: boolean): ActuatorEventRecord {
  return {
    kind,
    time: new Date().toISOString(),
    actuatorId: cmd?.actuatorId ?? ACTUATOR,
    gatewayId: 'austin-gw01',
    tenant: 'austin-summit',
    ...(cmd ? { command: cmd } : {}),
    ...(on !== undefined ? { state: { on, status: 'CONFIRMED' as const, confirmedAt: new Date().toISOString() } } : {}),
  };
}

/** Waits until `entries` holds `count` entries, or fails after 5 s. */
async function until(entries: unknown[], count: number): Promise<void> {
  const deadline = Date.now() + 5_000;
  while (entries.length < count) {
    if (Date.now() > deadline) throw new Error(`only ${entries.length} of ${count} events heard`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

describe.each(implementations)('%s actuator log', (_name, open) => {
  it('keeps a command once in its actuator trail, with its latest word, newest first, and pages with before', async () => {
    const log = open();
    const first = command('PENDING');
    await log.append(event('COMMANDED', first));
    await log.append(event('CONFIRMED', { ...first, outcome: 'CONFIRMED', finishedAt: new Date().toISOString() }, true));
    const second = command('PENDING', { on: false });
    await log.append(event('COMMANDED', second));
    const third = command('REFUSED', { errorCode: 'FORBIDDEN' });
    await log.append(event('REFUSED', third));

    const trail = await log.audit(ACTUATOR, { last: 10 });
    expect(trail.map((c) => c.id)).toEqual([third.id, second.id, first.id]);
    expect(trail[2]!.outcome).toBe('CONFIRMED');
    expect(trail[0]).toEqual(third);
    expect((await log.audit(ACTUATOR, { last: 1, before: third.id })).map((c) => c.id)).toEqual([second.id]);
    expect((await log.audit(ACTUATOR, { last: 5, before: first.id })).map((c) => c.id)).toEqual([]);
    expect(await log.audit(ACTUATOR, { last: 5, before: 'no-such-command' })).toEqual([]);
    expect(await log.audit('austin-gw01.22.output0', { last: 5 })).toEqual([]);
  });

  it('keeps the last state given per actuator, and nothing for one never given', async () => {
    const log = open();
    const cmd = command('CONFIRMED');
    await log.append(event('CONFIRMED', cmd, true));
    await log.append(event('COMMANDED', command('PENDING')));
    const [state, none] = await log.states([ACTUATOR, 'austin-gw01.22.output1']);
    expect(state).toMatchObject({ on: true, status: 'CONFIRMED' });
    expect(none).toBeUndefined();
    await log.append(event('STATE_CHANGED', undefined, false));
    expect((await log.states([ACTUATOR]))[0]).toMatchObject({ on: false });
  });

  it('bounds each trail to the newest commands', async () => {
    const log = open({ auditLimit: 3 });
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) {
      const cmd = command('CONFIRMED');
      ids.push(cmd.id);
      await log.append(event('CONFIRMED', cmd));
    }
    expect((await log.audit(ACTUATOR, { last: 10 })).map((c) => c.id)).toEqual(ids.slice(2).reverse());
  });

  it('streams events in order with growing positions, reads back after a position, and hears what is appended', async () => {
    const log = open();
    const heard: ActuatorLogEntry[] = [];
    const unsubscribe = log.subscribe((entry) => heard.push(entry));
    if (log instanceof RedisActuatorLog) await log.listening();
    const appended: ActuatorLogEntry[] = [];
    for (let i = 0; i < 4; i++) appended.push(await log.append(event('COMMANDED', command('PENDING'))));
    for (let i = 1; i < appended.length; i++) expect(compareLogPositions(appended[i - 1]!.position, appended[i]!.position)).toBeLessThan(0);

    await until(heard, 4);
    expect(heard.map((e) => e.position)).toEqual(appended.map((e) => e.position));
    expect(heard[0]!.event).toEqual(appended[0]!.event);
    unsubscribe();
    await log.append(event('COMMANDED', command('PENDING')));

    const after = await log.readRange(appended[1]!.position, 10);
    expect(after.map((e) => e.position)).toEqual([...appended.slice(2).map((e) => e.position), expect.any(String)]);
    expect(after[0]!.event.command?.id).toBe(appended[2]!.event.command?.id);
    expect((await log.readRange(appended[0]!.position, 2)).map((e) => e.position)).toEqual(appended.slice(1, 3).map((e) => e.position));
    expect(await log.oldestPosition()).toBe(appended[0]!.position);
    expect(heard).toHaveLength(4);
  });

  it('forgets the oldest events beyond its limit: the oldest position moves on', async () => {
    const log = open({ eventLimit: 10 });
    const first = await log.append(event('COMMANDED', command('PENDING')));
    // Redis trims with MAXLEN ~ (whole macro nodes of about 100 entries): enough appends for that.
    for (let i = 0; i < 300; i++) await log.append(event('COMMANDED', command('PENDING')));
    const oldest = await log.oldestPosition();
    expect(oldest).toBeDefined();
    expect(compareLogPositions(oldest!, first.position)).toBeGreaterThan(0);
    expect((await log.readRange('0', 1000)).length).toBeLessThan(301);
  });
});
