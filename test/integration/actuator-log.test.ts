import { appendFile, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '#log';
import {
  compareLogPositions,
  isLogPosition,
  MemoryActuatorLog,
  openActuatorLog,
  RedisActuatorLog,
  type ActuatorCommandRecord,
  type ActuatorEventRecord,
  type ActuatorLog,
  type ActuatorLogEntry,
  type ActuatorLogOptions,
} from '#registry';
import { startRedis, type RedisService } from '../support/services/redis.ts';

/**
 * Every `ActuatorLog` must keep the same audit trails, states and event stream: the memory one
 * (the embedded default), the one written through to a file beside the registry file (the
 * embedded default of `npm start`) and the Redis one against a real redis-server.
 */
let redis: RedisService;
let dir: string;
const opened: ActuatorLog[] = [];
let prefixes = 0;
let files = 0;

beforeAll(async () => {
  redis = await startRedis();
  dir = await mkdtemp(join(tmpdir(), 'iot-actuator-log-'));
});

afterAll(async () => {
  for (const log of opened) await log.close().catch(() => {});
  await redis?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

/** The log `wireDevices` opens beside the registry file `registry-<n>.json`. */
const openFileLog = (registryFile: string, options?: Parameters<typeof openActuatorLog>[2]) =>
  track(openActuatorLog({ registryFile }, silentLogger, options));

const implementations: Array<[string, (options?: ActuatorLogOptions) => ActuatorLog]> = [
  ['memory', (options) => track(new MemoryActuatorLog(options))],
  ['file', (options) => openFileLog(join(dir, `registry-${++files}.json`), options)],
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

  it('keeps refusals apart: a flood of refused attempts never pushes a command that was sent out of the trail', async () => {
    const log = open({ auditLimit: 3, refusalLimit: 2 });
    const sent = command('PENDING');
    await log.append(event('COMMANDED', sent));
    await log.append(event('CONFIRMED', { ...sent, outcome: 'CONFIRMED' }, true));
    const refusals: string[] = [];
    for (let i = 0; i < 5; i++) {
      const refused = command('REFUSED', { errorCode: 'RATE_LIMITED' });
      refusals.push(refused.id);
      await log.append(event('REFUSED', refused));
    }
    const later = command('CONFIRMED');
    await log.append(event('CONFIRMED', later));
    const trail = await log.audit(ACTUATOR, { last: 10 });
    // Newest first across both parts: the last two refusals, the two commands sent.
    expect(trail.map((c) => c.id)).toEqual([later.id, refusals[4], refusals[3], sent.id]);
    expect(trail[3]!.outcome).toBe('CONFIRMED');
    expect((await log.audit(ACTUATOR, { last: 2, before: later.id })).map((c) => c.id)).toEqual([refusals[4], refusals[3]]);
    expect((await log.audit(ACTUATOR, { last: 2, before: refusals[3] })).map((c) => c.id)).toEqual([sent.id]);
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

describe('the actuator log beside a registry file', () => {
  it('keeps trails, states and events across a restart; positions go on, so cursors resume', async () => {
    const registryFile = join(dir, 'registry-restart.json');
    const first = openFileLog(registryFile);
    const sent = command('PENDING');
    await first.append(event('COMMANDED', sent));
    const confirmed = await first.append(event('CONFIRMED', { ...sent, outcome: 'CONFIRMED' }, true));
    await first.saveState('austin-gw01.22.output0', { on: false, status: 'CONFIRMED', confirmedAt: new Date().toISOString() });
    await first.close();

    const second = openFileLog(registryFile);
    expect((await second.audit(ACTUATOR, { last: 5 })).map((c) => [c.id, c.outcome])).toEqual([[sent.id, 'CONFIRMED']]);
    expect(await second.states([ACTUATOR, 'austin-gw01.22.output0'])).toEqual([
      expect.objectContaining({ on: true, status: 'CONFIRMED' }),
      expect.objectContaining({ on: false }),
    ]);
    const next = await second.append(event('COMMANDED', command('PENDING')));
    expect(compareLogPositions(next.position, confirmed.position)).toBeGreaterThan(0);
    expect((await second.readRange(confirmed.position, 10)).map((e) => e.position)).toEqual([next.position]);
  });

  it('skips a line cut short by a crash and loses nothing written after it', async () => {
    const registryFile = join(dir, 'registry-torn.json');
    const first = openFileLog(registryFile);
    const kept = command('CONFIRMED');
    await first.append(event('CONFIRMED', kept, true));
    await first.close();
    await appendFile(join(dir, 'registry-torn.actuators.jsonl'), '{"t":"event","p":"2","e":{"kind":"COMM');

    const second = openFileLog(registryFile);
    const after = command('CONFIRMED');
    await second.append(event('CONFIRMED', after, false));
    await second.close();
    const third = openFileLog(registryFile);
    expect((await third.audit(ACTUATOR, { last: 5 })).map((c) => c.id)).toEqual([after.id, kept.id]);
  });

  it('stays bounded: compacted into one line of what it holds, which reads back the same', async () => {
    const registryFile = join(dir, 'registry-compact.json');
    const log = openFileLog(registryFile, { compactAfterLines: 20, auditLimit: 5, eventLimit: 8 });
    const ids: string[] = [];
    let lastPosition = '';
    for (let i = 0; i < 50; i++) {
      const cmd = command('CONFIRMED');
      ids.push(cmd.id);
      lastPosition = (await log.append(event('CONFIRMED', cmd, i % 2 === 0))).position;
    }
    await log.close();
    const lines = (await readFile(join(dir, 'registry-compact.actuators.jsonl'), 'utf8')).trim().split('\n');
    expect(lines.length).toBeLessThanOrEqual(21);
    const reopened = openFileLog(registryFile, { compactAfterLines: 20, auditLimit: 5, eventLimit: 8 });
    expect((await reopened.audit(ACTUATOR, { last: 10 })).map((c) => c.id)).toEqual(ids.slice(-5).reverse());
    expect((await reopened.readRange('0', 100)).map((e) => e.position)).toEqual(
      Array.from({ length: 8 }, (_, i) => String(Number(lastPosition) - 7 + i)),
    );
    expect((await reopened.states([ACTUATOR]))[0]).toMatchObject({ on: false });
  });
});

describe('log positions', () => {
  it('are counters or Redis stream ids of at most 2^64 - 1 a part: a larger one is no cursor', () => {
    expect(isLogPosition('42')).toBe(true);
    expect(isLogPosition('1700000000000-18446744073709551615')).toBe(true);
    expect(isLogPosition('1700000000000-18446744073709551616')).toBe(false);
    expect(isLogPosition('99999999999999999999')).toBe(false);
    expect(isLogPosition('1-2-3')).toBe(false);
    expect(isLogPosition('')).toBe(false);
  });
});
