import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger, type Logger } from '#log';
import {
  FileActuatorLog,
  MemoryActuatorLog,
  RedisActuatorLog,
  type ActuatorCommandRecord,
  type ActuatorEventRecord,
  type ActuatorLog,
  type ActuatorLogEntry,
} from '#registry';
import { finishInterruptedCommands, INTERRUPTED_COMMAND_ERROR } from '../../subgraphs/devices/src/sources/actuator-commands.ts';
import { ActuatorEventStream } from '../../subgraphs/devices/src/sources/actuator-events.ts';
import { startRedis, type RedisService } from '../support/services/redis.ts';

/**
 * The actuator log on an operator's bad day, on a real redis-server and a real file system: commands
 * a crash left PENDING, finished by one of several instances sharing Redis, and only once old
 * enough; a log file that cannot be written any more (a full disk); a subscriber that stops reading.
 */
let redis: RedisService;
let dir: string;
const opened: ActuatorLog[] = [];
let prefixes = 0;

beforeAll(async () => {
  redis = await startRedis();
  dir = await mkdtemp(join(tmpdir(), 'iot-actuator-bad-day-'));
});

afterAll(async () => {
  for (const log of opened) await log.close().catch(() => {});
  await redis?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

function track<T extends ActuatorLog>(log: T): T {
  opened.push(log);
  return log;
}

/** A logger whose entries (level and message) a test reads. */
function recordingLogger(): { logger: Logger; entries: Array<{ level: number; msg: string }> } {
  const entries: Array<{ level: number; msg: string }> = [];
  const logger = pino(
    { level: 'info' },
    { write: (line: string) => void entries.push(JSON.parse(line) as { level: number; msg: string }) },
  );
  return { logger, entries };
}

const relay = 'gw1.5.output0';
const light = 'gw1.6.light0';

function command(id: string, actuatorId: string, requestedAt: Date, outcome: ActuatorCommandRecord['outcome']): ActuatorCommandRecord {
  return {
    id,
    actuatorId,
    gatewayId: 'gw1',
    tenant: 't1',
    kind: actuatorId.includes('light') ? 'LIGHT' : 'BINARY_OUTPUT',
    requestedBy: 'u1',
    requestedAt: requestedAt.toISOString(),
    on: true,
    outcome,
  };
}

function event(
  kind: ActuatorEventRecord['kind'],
  commanded: ActuatorCommandRecord,
  extra: Partial<ActuatorEventRecord> = {},
): ActuatorEventRecord {
  return {
    kind,
    time: new Date().toISOString(),
    actuatorId: commanded.actuatorId,
    gatewayId: 'gw1',
    tenant: 't1',
    command: commanded,
    ...extra,
  };
}

describe('commands a crash left PENDING, several instances sharing Redis', () => {
  it('finishes only those older than the timeout, UNCONFIRMED with why, once whatever instances sweep, the state never assumed', async () => {
    const prefix = `{test:bad-day:${++prefixes}}`;
    const [a, b] = [1, 2].map(() => track(new RedisActuatorLog({ url: redis.url, logger: silentLogger, prefix, blockMs: 200 })));
    const minuteAgo = new Date(Date.now() - 60_000);
    // The relay was last confirmed on; a crash came while it was being switched off.
    await a!.append(
      event(
        'CONFIRMED',
        { ...command('c0', relay, minuteAgo, 'CONFIRMED') },
        { state: { on: true, status: 'CONFIRMED', confirmedAt: minuteAgo.toISOString() } },
      ),
    );
    const crashed = { ...command('c1', relay, minuteAgo, 'PENDING'), on: false };
    await a!.append(event('COMMANDED', crashed));
    // Another instance's command, in flight now: left alone.
    const inFlight = command('c2', light, new Date(), 'PENDING');
    await b!.append(event('COMMANDED', inFlight));
    expect((await a!.pendingCommands()).map((c) => c.id)).toEqual(['c1', 'c2']);

    const heard: ActuatorLogEntry[] = [];
    const unsubscribe = b!.subscribe((entry) => heard.push(entry));
    await b!.listening();
    const sweeps = await Promise.all([a!, b!, a!].map((log) => finishInterruptedCommands(log, 5_000, silentLogger)));

    expect(sweeps.reduce((sum, sweep) => sum + sweep.finished, 0)).toBe(1);
    expect(await a!.pendingCommands()).toEqual([inFlight]);
    const [trail] = await b!.audit(relay, { last: 1 });
    expect(trail).toMatchObject({ id: 'c1', outcome: 'UNCONFIRMED', error: INTERRUPTED_COMMAND_ERROR, on: false });
    expect(trail!.finishedAt).toBeDefined();
    // The last confirmed value stays, marked UNCONFIRMED: never the asked `off`.
    expect(await b!.states([relay, light])).toEqual([{ on: true, status: 'UNCONFIRMED', confirmedAt: minuteAgo.toISOString() }, undefined]);
    await expect.poll(() => heard.filter((entry) => entry.event.kind === 'UNCONFIRMED').length).toBe(1);
    unsubscribe();
    expect(heard.find((entry) => entry.event.kind === 'UNCONFIRMED')!.event.state).toMatchObject({ on: true, status: 'UNCONFIRMED' });

    // The in-flight command's own answer comes: the sweep has nothing left to do with it.
    await b!.append(event('CONFIRMED', { ...inFlight, outcome: 'CONFIRMED' }));
    expect(await a!.pendingCommands()).toEqual([]);
  });

  it('does the same for the memory and the file logs', async () => {
    const logs: ActuatorLog[] = [
      track(new MemoryActuatorLog()),
      track(new FileActuatorLog({ path: join(dir, 'sweep.jsonl'), logger: silentLogger })),
    ];
    for (const log of logs) {
      await log.append(event('COMMANDED', command('old', relay, new Date(Date.now() - 60_000), 'PENDING')));
      await log.append(event('COMMANDED', command('new', light, new Date(), 'PENDING')));
      expect(await finishInterruptedCommands(log, 5_000, silentLogger)).toEqual({ finished: 1, younger: 1 });
      expect(await finishInterruptedCommands(log, 5_000, silentLogger)).toEqual({ finished: 0, younger: 1 });
      expect((await log.audit(relay, { last: 1 }))[0]).toMatchObject({ outcome: 'UNCONFIRMED', error: INTERRUPTED_COMMAND_ERROR });
      expect(await log.states([relay])).toEqual([{ status: 'UNCONFIRMED' }]);
    }
  });
});

describe('a log file that cannot be written (a full disk)', () => {
  it('answers every append, tells the operator once, and writes the file whole when it can again', async () => {
    const folder = join(dir, 'full');
    const path = join(folder, 'registry.actuators.jsonl');
    const { logger, entries } = recordingLogger();
    const log = track(new FileActuatorLog({ path, logger }));
    await log.append(event('COMMANDED', command('before', relay, new Date(), 'PENDING')));
    // A directory where the file should be: every write fails, as on a full disk (also for root).
    await rm(path);
    await mkdir(path);
    for (let i = 0; i < 20; i++) await log.append(event('COMMANDED', command(`during-${i}`, relay, new Date(), 'PENDING')));
    const errors = entries.filter((entry) => entry.level >= 50);
    expect(errors).toHaveLength(1);
    expect(errors[0]!.msg).toMatch(/cannot be written/);
    expect(await log.audit(relay, { last: 100 })).toHaveLength(21);

    await rm(path, { recursive: true });
    await log.append(event('COMMANDED', command('after', relay, new Date(), 'PENDING')));
    expect(entries.filter((entry) => /written again/.test(entry.msg))).toHaveLength(1);
    await log.close();
    expect(await readFile(path, 'utf8')).not.toBe('');
    const reopened = track(new FileActuatorLog({ path, logger: silentLogger }));
    const ids = (await reopened.audit(relay, { last: 100 })).map((c) => c.id);
    expect(ids).toHaveLength(22);
    expect(ids).toContain('during-7');
  });
});

describe('an actuatorEvents subscriber that stops reading', () => {
  it('holds at most its queue, is ended SLOW_CONSUMER with where to resume, and resumes without a gap', async () => {
    const log = track(new MemoryActuatorLog());
    const everything = { visible: async () => true };
    const stream = await new ActuatorEventStream(log, everything, 5).prepare();
    await log.append(event('COMMANDED', command('first', relay, new Date(), 'PENDING')));
    const first = await stream.next();
    const got = [(first.value as ActuatorLogEntry).event.command!.id];
    for (let i = 0; i < 50; i++) await log.append(event('COMMANDED', command(`c${i}`, relay, new Date(), 'PENDING')));

    let ended: { extensions: Record<string, unknown> } | undefined;
    for (;;) {
      const step = await stream.next();
      if (step.done) break;
      if ('position' in step.value) got.push(step.value.event.command!.id);
      else ended = step.value as unknown as { extensions: Record<string, unknown> };
    }
    expect(ended?.extensions).toMatchObject({ code: 'SLOW_CONSUMER' });
    // What it was given before it was ended: no more than its queue held.
    expect(got.length).toBeLessThanOrEqual(1 + 5);
    const resumeAfter = ended!.extensions.resumeAfter as string;

    const resumed = await new ActuatorEventStream(log, everything, 5, resumeAfter).prepare();
    for (;;) {
      const step = await resumed.next();
      got.push((step.value as ActuatorLogEntry).event.command!.id);
      if (got.at(-1) === 'c49') break;
    }
    await resumed.return();
    expect(got).toEqual(['first', ...Array.from({ length: 50 }, (_, i) => `c${i}`)]);
  });
});
