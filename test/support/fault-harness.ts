import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createClient, type Client } from 'graphql-ws';
import WebSocket from 'ws';
import { gatewayUsername } from '#broker';
import { createMqttClient } from '#iqrf';
import { silentLogger } from '#log';
import { RedisGatewayRegistry } from '#registry';
import { buildScenario, IqrfDaemonSimulator, scenarioRegistry, type Scenario } from '#simulator';
import { GraphiteTimeSeriesStore, RedisLiveBus, type Reading } from '#telemetry';
import { composeSupergraph, subgraphs as subgraphList, type SubgraphName } from '#supergraph';
import { adminToken } from './auth.ts';
import { startGraphite, GRAPHITE_RESOLUTION_SECONDS, type GraphiteService } from './services/graphite.ts';
import { startMosquitto, type RunningMosquitto } from './services/mosquitto.ts';
import { freePort, spawnServer, stopProcess, tempDir } from './services/process.ts';
import { startRedis, type RedisService } from './services/redis.ts';

/**
 * The fault rig of `test/e2e/faults.test.ts` and `bench/soak.ts`: Redis, Mosquitto and Graphite (the
 * test helpers), the collector, the telemetry subgraph and the router each in its own process
 * (`npm run collector`, `npm run subgraph:telemetry`, `npm run router`, with their own variables),
 * the demo city's IQRF daemons in this process, and subscribers on the stock graphql-ws client
 * with its default retry (one per gateway, one with a room filter), plus one that also retries a
 * refused connection (`shouldRetry: () => true`).
 *
 * A stage (`rig.stage(name, fault)`) is: load on, readings flowing to every subscriber, the fault
 * (a part killed or stopped, load going on while it is away, the part back), readings flowing
 * again, load off (every daemon's radio "stuck": heartbeats answered, FRCs not), then waits until
 * nothing moves any more and every subscriber has reached the stream's last cursor for its filter,
 * and counts: accepted (the collectors' own `readings` counters), stored (Graphite's render of the
 * stage's series), streamed (XRANGE of the live-bus stream) and each subscriber's events against
 * the stream's for its filter. Stages wait on conditions, never on fixed sleeps; an outage lasts
 * until the daemons answered some readings while it lasted (or `outageMaxMs` when nothing can be
 * asked, e.g. with the broker down).
 */

const root = fileURLToPath(new URL('../../', import.meta.url));
const countsHook = fileURLToPath(new URL('./collector-counts.ts', import.meta.url));

export interface RigOptions {
  /** How often each collector polls each gateway. Default 2 s (the demo city: ~70 readings/s). */
  pollInterval?: string;
  /** Readings streamed before a fault, and after the part is back, per stage. Default 150. */
  readingsPerPhase?: number;
  /** Readings the daemons answer while a part is away. Default 100. */
  readingsDuringOutage?: number;
  /** An outage ends after this long even when nothing could be answered (broker down). Default 4 s. */
  outageMaxMs?: number;
  /** How long to wait for a condition before the stage gives up and counts what it has. */
  conditionTimeoutMs?: number;
  log?: (line: string) => void;
}

/** One Node process of the platform (`npm run <part>`), started again on the same port and variables. */
export class PartProcess {
  private child: ReturnType<typeof spawnServer> | undefined;
  /** Each incarnation's counts file (collectors only). */
  readonly countsFiles: string[] = [];
  starts = 0;
  /** Times it was killed (`kill`). */
  kills = 0;

  constructor(
    readonly name: string,
    private readonly script: string,
    private readonly env: Record<string, string>,
    private readonly ready: (part: PartProcess) => Promise<boolean>,
    private readonly countsDir?: string,
  ) {}

  /** Exits nobody asked for (a crash), each with the end of its output; the rig starts the part again, as a supervisor would. */
  readonly crashes: string[] = [];
  private expectingExit = false;

  get running(): boolean {
    return Boolean(this.child && this.child.exitCode === null && this.child.signalCode === null);
  }

  async start(timeoutMs = 60_000): Promise<void> {
    const env: Record<string, string> = { ...this.env };
    const imports = ['--import', 'tsx'];
    if (this.countsDir) {
      const file = join(this.countsDir, `${this.name}-${++this.starts}.jsonl`);
      writeFileSync(file, '');
      this.countsFiles.push(file);
      env.COLLECTOR_COUNTS_FILE = file;
      imports.push('--import', countsHook);
    } else this.starts++;
    const child = spawnServer(process.execPath, [...imports, join(root, this.script)], { cwd: root, env });
    this.child = child;
    this.expectingExit = false;
    child.once('exit', (code, signal) => {
      if (this.expectingExit || this.child !== child) return;
      this.crashes.push(`${this.name} exited on its own (${signal ?? code}): ${lastLines(child.output(), 1_500)}`);
      // As `restart: unless-stopped` would; a start that fails is in the next report too.
      this.start().catch((error: Error) => this.crashes.push(`${this.name} did not start again: ${error.message.slice(0, 500)}`));
    });
    await until(
      async () => {
        if (child.exitCode !== null || child.signalCode !== null)
          throw new Error(`${this.name} exited (${child.signalCode ?? child.exitCode}) while starting:\n${child.output()}`);
        return this.ready(this);
      },
      timeoutMs,
      `${this.name} ready`,
    ).catch((error: Error) => {
      throw new Error(`${error.message}\n${child.output().slice(-4000)}`);
    });
  }

  /** Kills it with `signal` and waits until it has exited. */
  async kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    this.kills++;
    this.expectingExit = true;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.kill(signal);
    await exited;
  }

  /** Graceful stop (SIGTERM, SIGKILL after 15 s). */
  async stop(): Promise<void> {
    this.expectingExit = true;
    if (this.child) await stopProcess(this.child, 15_000);
  }

  output(): string {
    return this.child?.output() ?? '';
  }

  /** A collector's counters: the last line each incarnation wrote, summed. */
  counters(): { readings: number; polls: number; deliveryRetries: number; failedRequests: number; rejected: number } {
    const sum = { readings: 0, polls: 0, deliveryRetries: 0, failedRequests: 0, rejected: 0 };
    for (const file of this.countsFiles) {
      const lines = readFileSync(file, 'utf8').trim().split('\n').filter(Boolean);
      if (!lines.length) continue;
      const stats = JSON.parse(lines.at(-1)!) as {
        readings: number;
        polls: number;
        deliveryRetries: number;
        failedRequests: number;
        rejectedAnswers: Record<string, number>;
      };
      sum.readings += stats.readings;
      sum.polls += stats.polls;
      sum.deliveryRetries += stats.deliveryRetries;
      sum.failedRequests += stats.failedRequests;
      sum.rejected += Object.values(stats.rejectedAnswers).reduce((a, b) => a + b, 0);
    }
    return sum;
  }
}

type Event = { cursor: string; sensorId: string; time: number };

/** A partner's subscription: the stock graphql-ws client (default retry), its last cursor kept in `variables.after`. */
export class Subscriber {
  readonly received: Event[] = [];
  readonly errors: string[] = [];
  /** The subscription ended (error, complete, or the client gave up retrying). */
  ended = false;
  /** Times it was subscribed again by the rig after it had ended (at a stage's start). */
  revived = 0;
  /** The client's connection events: `closed <code>` and `reconnected`, in order (cleared by each stage's count). */
  readonly connection: string[] = [];
  private client: Client | undefined;

  constructor(
    readonly name: string,
    readonly filter: { gatewayId: string; room?: string },
    private readonly url: string,
    private readonly token: string,
    /**
     * Also retry when the socket cannot open (graphql-ws' default `shouldRetry` retries close
     * events only, so a refused connection while the router restarts ends the subscription).
     */
    private readonly retryRefused = false,
  ) {}

  matches(reading: Reading): boolean {
    return reading.gatewayId === this.filter.gatewayId && (this.filter.room === undefined || reading.room === this.filter.room);
  }

  subscribe(): void {
    this.ended = false;
    void this.client?.dispose();
    const token = this.token;
    this.client = createClient({
      url: this.url.replace(/^http/, 'ws'),
      webSocketImpl: WebSocket,
      lazy: true,
      connectionParams: () => ({ authorization: `Bearer ${token}` }),
      ...(this.retryRefused ? { shouldRetry: () => true } : {}),
    });
    this.client.on('closed', (event) => void this.connection.push(`closed ${(event as { code?: number }).code}`));
    this.client.on('connected', (_socket, _payload, wasRetry) => void (wasRetry && this.connection.push('reconnected')));
    const payload = {
      query:
        'subscription Live($gatewayId: ID, $room: String, $after: String) { readings(gatewayId: $gatewayId, room: $room, after: $after) { cursor time sensor { id } } }',
      variables: { ...this.filter, after: this.received.at(-1)?.cursor ?? null },
    };
    this.client.subscribe<{ readings: { cursor: string; time: string; sensor: { id: string } } }>(payload, {
      next: (result) => {
        if (result.errors) this.errors.push(JSON.stringify(result.errors).slice(0, 300));
        const reading = result.data?.readings;
        if (!reading) return;
        this.received.push({ cursor: reading.cursor, sensorId: reading.sensor.id, time: Date.parse(reading.time) });
        payload.variables.after = reading.cursor;
      },
      error: (error) => {
        this.errors.push(describe(error));
        this.ended = true;
      },
      complete: () => {
        this.ended = true;
      },
    });
  }

  async close(): Promise<void> {
    await this.client?.dispose();
  }
}

/** What a stage counted. `problems` is empty when nothing was lost or doubled. */
export interface StageReport {
  name: string;
  seconds: number;
  /** From the fault to the part being back (ready). */
  downSeconds: number;
  answered: number;
  accepted: number;
  streamed: number;
  streamDuplicates: number;
  /** (sensor, Graphite slot) pairs the stage's streamed readings fill, and those Graphite holds with the last value. */
  storedExpected: number;
  stored: number;
  subscribers: Array<{
    name: string;
    expected: number;
    got: number;
    missing: number;
    duplicates: number;
    foreign: number;
    errors: string[];
    connection: string[];
    revived: boolean;
  }>;
  problems: string[];
}

export interface FaultRig {
  redis: RedisService;
  mosquitto: RunningMosquitto;
  graphite: GraphiteService;
  collectors: PartProcess[];
  telemetry: PartProcess;
  router: PartProcess;
  subscribers: Subscriber[];
  reports: StageReport[];
  /** A second collector (own account and id), not started. */
  addCollector(id: string): Promise<PartProcess>;
  /** Runs one stage; `fault` takes the part away and brings it back, using `outage()` for the time between. */
  stage(name: string, fault: (outage: () => Promise<void>) => Promise<void>): Promise<StageReport>;
  close(): Promise<void>;
}

export async function startFaultRig(options: RigOptions = {}): Promise<FaultRig> {
  const log = options.log ?? (() => {});
  const perPhase = options.readingsPerPhase ?? 150;
  const duringOutage = options.readingsDuringOutage ?? 100;
  const outageMaxMs = options.outageMaxMs ?? 4_000;
  const conditionMs = options.conditionTimeoutMs ?? 45_000;
  const scenario = buildScenario('demo');
  const [redis, mosquitto, graphite] = await Promise.all([startRedis({ appendonly: true }), startMosquitto(), startGraphite()]);
  const cleanups: Array<() => Promise<unknown>> = [() => Promise.all([redis.stop(), mosquitto.stop(), graphite.stop()])];
  const close = async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => undefined);
  };
  try {
    const dir = await tempDir('faults');
    cleanups.push(() => rm(dir, { recursive: true, force: true }));
    const registry = new RedisGatewayRegistry({ url: redis.url, logger: silentLogger });
    for (const record of scenarioRegistry(scenario, new Date())) await registry.add(record);
    await registry.close();

    const daemons = await startCountingDaemons(mosquitto, scenario);
    cleanups.push(async () => daemons.simulator.stop());

    const common = {
      LOG_LEVEL: 'warn',
      SUBGRAPH_SECRET: randomBytes(24).toString('base64url'),
      MQTT_MSGID_SECRET: randomBytes(32).toString('base64url'),
      NODE_ENV: 'development',
    };
    const backends = { REDIS_URL: redis.url, GRAPHITE_URL: graphite.graphiteUrl, CARBON_URL: graphite.carbonUrl };
    const [telemetryPort, routerPort] = [await freePort(), await freePort()];
    const healthy = (port: number) => async () => (await fetch(`http://127.0.0.1:${port}/health`).catch(() => undefined))?.ok ?? false;

    // Only the telemetry subgraph runs: the subscription asks nothing of the others.
    const urls = Object.fromEntries(
      subgraphList.map(({ name }) => [
        name,
        name === 'telemetry' ? `http://127.0.0.1:${telemetryPort}/graphql` : 'http://127.0.0.1:9/graphql',
      ]),
    ) as Record<SubgraphName, string>;
    const supergraph = join(dir, 'supergraph.graphql');
    writeFileSync(supergraph, await composeSupergraph(urls));

    const telemetry = new PartProcess(
      'telemetry',
      'subgraphs/telemetry/src/main.ts',
      { ...common, ...backends, PORT: String(telemetryPort), EXPOSE_INTERNAL_ERRORS: 'true' },
      healthy(telemetryPort),
    );
    const router = new PartProcess(
      'router',
      'router/src/main.ts',
      { ...common, PORT: String(routerPort), SUPERGRAPH: supergraph, RATE_LIMIT: 'false' },
      healthy(routerPort),
    );
    const collectors: PartProcess[] = [];
    const addCollector = async (id: string) => {
      const account = await mosquitto.account({ username: id, role: 'collector' });
      const collector = new PartProcess(
        id,
        'collector/src/main.ts',
        {
          ...common,
          ...backends,
          MQTT_URL: mosquitto.url,
          MQTT_USERNAME: account.username,
          MQTT_PASSWORD: account.password,
          COLLECTOR_ID: id,
          POLL_INTERVAL: options.pollInterval ?? '2s',
          HEARTBEAT_INTERVAL: '2s',
          IQRF_TIMEOUT_MS: '2000',
        },
        async (part) => readFileSync(part.countsFiles.at(-1)!, 'utf8').length > 0,
        dir,
      );
      collectors.push(collector);
      cleanups.push(() => collector.stop());
      return collector;
    };
    cleanups.push(
      () => telemetry.stop(),
      () => router.stop(),
    );
    await Promise.all([telemetry.start(), router.start(), (await addCollector('collector-a')).start()]);

    const token = await adminToken();
    const routerUrl = `http://127.0.0.1:${routerPort}/graphql`;
    // The stock client as README and docs/partners.md tell partners to configure it: graphql-ws'
    // own retry, told to retry a refused connection too (a router that dies gives no close code;
    // the library's default `shouldRetry` gives up when the router is down longer than its first
    // retry), and the last cursor in `variables.after`.
    const subscribers = [
      ...scenario.gateways.map((gateway) => new Subscriber(gateway.id, { gatewayId: gateway.id }, routerUrl, token, true)),
      new Subscriber('austin-gw01 room 301', { gatewayId: 'austin-gw01', room: '301' }, routerUrl, token, true),
    ];
    cleanups.push(() => Promise.all(subscribers.map((s) => s.close())));
    subscribers.forEach((s) => s.subscribe());

    const bus = new RedisLiveBus({ url: redis.url, logger: silentLogger });
    const store = new GraphiteTimeSeriesStore({ graphiteUrl: graphite.graphiteUrl, carbonUrl: graphite.carbonUrl, logger: silentLogger });
    cleanups.push(
      () => bus.close(),
      () => store.close(),
    );
    const stream = new StreamCopy(bus);

    const accepted = () => collectors.reduce((sum, c) => sum + c.counters().readings, 0);
    const collectorKills = () => collectors.reduce((sum, c) => sum + c.kills, 0);
    const setLoad = (on: boolean) => scenario.gateways.forEach((g) => daemons.simulator.setRadioStuck(g.id, !on));
    const subscribersWithReadings = subscribers.filter((s) => s.filter.room === undefined);
    /** Conditions a stage waited for in vain (readings did not flow again, subscribers did not catch up). */
    const stalls: string[] = [];

    /** Load off, then: nothing answered, accepted or streamed for a while, and every subscriber at the stream's end. */
    const settle = async () => {
      setLoad(false);
      let last = '';
      let stableSince = Date.now();
      await until(
        async () => {
          await stream.sync().catch(() => undefined);
          const now = `${daemons.answered.readings}/${accepted()}/${stream.readings.length}`;
          if (now !== last) [last, stableSince] = [now, Date.now()];
          return Date.now() - stableSince >= 1_500;
        },
        conditionMs,
        'load settled',
      ).catch((error: Error) => stalls.push(error.message));
      await until(
        async () => subscribers.every((s) => s.ended || stream.caughtUp(s)),
        conditionMs,
        'subscribers at the end of the stream',
      ).catch((error: Error) => stalls.push(error.message));
    };

    /** Load on until `count` more readings were streamed and every subscriber of a gateway got one of them. */
    const flow = async (count: number, what: string) => {
      setLoad(true);
      const from = stream.readings.length;
      const got = subscribersWithReadings.map((s) => s.received.length);
      await until(
        async () => {
          await stream.sync().catch(() => undefined);
          return stream.readings.length >= from + count && subscribersWithReadings.every((s, i) => s.ended || s.received.length > got[i]!);
        },
        conditionMs,
        what,
      ).catch((error: Error) => {
        stalls.push(`${error.message} (answered ${daemons.answered.readings}, accepted ${accepted()}, streamed ${stream.readings.length})`);
        log(stalls.at(-1)!);
        for (const part of [...collectors, telemetry, router]) log(`--- ${part.name} (last output)\n${part.output().slice(-3_000)}`);
      });
    };

    // Warm up: meshes enumerated, every subscriber receiving; then a quiet start for the first stage.
    await flow(perPhase, 'warm-up');
    await settle();
    const crashed = [...collectors, telemetry, router].flatMap((part) => part.crashes);
    if (stalls.length || crashed.length) throw new Error(`the rig did not warm up: ${[...stalls, ...crashed].join('\n')}`);

    const reports: StageReport[] = [];
    const rig: FaultRig = {
      redis,
      mosquitto,
      graphite,
      collectors,
      telemetry,
      router,
      subscribers,
      reports,
      addCollector,
      close,
      async stage(name, fault) {
        const started = Date.now();
        await stream.sync();
        const start = { index: stream.readings.length, accepted: accepted(), answered: daemons.answered.readings, kills: collectorKills() };
        const revived = new Set<Subscriber>();
        for (const s of subscribers.filter((s) => s.ended)) {
          s.revived++;
          revived.add(s);
          s.subscribe();
        }
        const firstOf = new Map(subscribers.map((s) => [s, s.received.length]));
        await flow(perPhase, `${name}: before`);
        const outage = async () => {
          const answered = daemons.answered.readings;
          const deadline = Date.now() + outageMaxMs;
          await until(
            async () => daemons.answered.readings >= answered + duringOutage || Date.now() >= deadline,
            outageMaxMs + 1_000,
            'outage',
          );
        };
        const faultAt = Date.now();
        await fault(outage);
        const downSeconds = Math.round((Date.now() - faultAt) / 100) / 10;
        await flow(perPhase, `${name}: after`);
        await settle();
        const report = await count(name, started, start, firstOf, revived);
        report.downSeconds = downSeconds;
        reports.push(report);
        log(formatReport([report]));
        return report;
      },
    };

    const count = async (
      name: string,
      started: number,
      start: { index: number; accepted: number; answered: number; kills: number },
      firstOf: Map<Subscriber, number>,
      revived: Set<Subscriber>,
    ): Promise<StageReport> => {
      await stream.sync();
      const readings = stream.readings.slice(start.index);
      const problems: string[] = [];
      const report: StageReport = {
        name,
        seconds: Math.round((Date.now() - started) / 100) / 10,
        downSeconds: 0,
        answered: daemons.answered.readings - start.answered,
        accepted: accepted() - start.accepted,
        streamed: readings.length,
        streamDuplicates: readings.filter((r) => stream.firstIndexOf(r.reading) !== r.index).length,
        storedExpected: 0,
        stored: 0,
        subscribers: [],
        problems,
      };
      problems.push(...stalls.splice(0).map((stall) => `waited in vain: ${stall}`));
      for (const part of [...collectors, telemetry, router]) problems.push(...part.crashes.splice(0));
      // A collector counts a batch as accepted once the bus took it: SIGKILL between the two leaves
      // a batch streamed (and stored) that its counter never showed. Only then, and by at most one
      // answer's readings per collector killed, may the stream hold more than was counted; every
      // reading streamed is still checked below against the store and each subscriber.
      const uncounted = report.streamed - report.accepted;
      const perAnswer = new Map<string, number>();
      for (const { reading } of readings) {
        const answer = (reading as { answerId?: string }).answerId ?? reading.sensorId;
        perAnswer.set(answer, (perAnswer.get(answer) ?? 0) + 1);
      }
      const largestAnswer = Math.max(0, ...perAnswer.values());
      if (uncounted < 0 || uncounted > (collectorKills() - start.kills) * largestAnswer)
        problems.push(`accepted ${report.accepted} != streamed ${report.streamed}`);
      if (report.streamDuplicates) problems.push(`${report.streamDuplicates} readings are in the stream twice`);

      // Graphite keeps one value per sensor and slot: the last one written.
      const expected = new Map<string, { sensorId: string; tenant: string; time: number; value: number }>();
      for (const { reading } of readings) {
        const slot = Math.floor(reading.time / (GRAPHITE_RESOLUTION_SECONDS * 1000)) * GRAPHITE_RESOLUTION_SECONDS * 1000;
        expected.set(`${reading.tenant}/${reading.sensorId}@${slot}`, {
          sensorId: reading.sensorId,
          tenant: reading.tenant,
          time: slot,
          value: reading.value,
        });
      }
      report.storedExpected = expected.size;
      if (readings.length) {
        const series = [
          ...new Map([...expected.values()].map((e) => [`${e.tenant}/${e.sensorId}`, { sensorId: e.sensorId, tenant: e.tenant }])).values(),
        ];
        const from = Math.min(...readings.map((r) => r.reading.time)) - 2_000;
        const to = Math.max(...readings.map((r) => r.reading.time)) + 2_000;
        const storedNow = async () => {
          const points = await store.query({ series, from, until: to });
          const held = new Map<string, number>();
          series.forEach((key, i) => points[i]!.forEach((p) => held.set(`${key.tenant}/${key.sensorId}@${p.time}`, p.value)));
          return [...expected].filter(([k, e]) => Math.abs((held.get(k) ?? Number.NaN) - e.value) < 1e-6).length;
        };
        // carbon may still be writing what the collector resent after it came back: wait until it holds all, or stops changing.
        let lastStored = -1;
        let stableSince = Date.now();
        await until(
          async () => {
            report.stored = await storedNow();
            if (report.stored !== lastStored) [lastStored, stableSince] = [report.stored, Date.now()];
            return report.stored === report.storedExpected || Date.now() - stableSince > 5_000;
          },
          conditionMs,
          'Graphite holds the stage',
        ).catch(() => undefined);
      }
      if (report.stored !== report.storedExpected)
        problems.push(`Graphite holds ${report.stored} of ${report.storedExpected} (sensor, slot) values streamed`);

      for (const s of subscribers) {
        const events = s.received.slice(firstOf.get(s));
        const indexes = events.map((e) => stream.indexOfCursor(e.cursor));
        const foreign = indexes.filter((i) => i === undefined).length;
        const inStage = indexes.filter((i): i is number => i !== undefined && i >= start.index);
        // Its first cursor ever: before it, nothing is owed.
        const firstEver = s.received.length ? (stream.indexOfCursor(s.received[0]!.cursor) ?? 0) : Number.POSITIVE_INFINITY;
        const owed = stream.readings.filter((r) => r.index >= Math.max(start.index, firstEver) && s.matches(r.reading)).map((r) => r.index);
        const gotSet = new Set(inStage);
        const missing = owed.filter((i) => !gotSet.has(i)).length;
        const duplicates = inStage.length - gotSet.size;
        const errors = s.errors.splice(0);
        const connection = s.connection.splice(0);
        report.subscribers.push({
          name: s.name,
          expected: owed.length,
          got: inStage.length,
          missing,
          duplicates,
          foreign,
          errors,
          connection,
          revived: revived.has(s),
        });
        const history = connection.length ? `; connection: ${connection.join(', ')}` : '';
        if (missing)
          problems.push(`${s.name}: ${missing} of ${owed.length} readings missing${s.ended ? ' (its subscription ended)' : ''}${history}`);
        if (duplicates) {
          // Where: the stream index of each copy's reading (from the stage's start), and the events received between its two copies.
          const seenAt = new Map<number, number>();
          const twice = inStage.flatMap((index, at) => {
            const first = seenAt.get(index);
            seenAt.set(index, at);
            return first === undefined ? [] : [`#${index - start.index} again after ${at - first - 1} events`];
          });
          problems.push(`${s.name}: ${duplicates} readings twice (${twice.slice(0, 3).join(', ')})${history}`);
        }
        if (foreign) problems.push(`${s.name}: ${foreign} events with cursors not in the stream`);
        if (inStage.some((i) => !s.matches(stream.readings[i]!.reading))) problems.push(`${s.name}: readings outside its filter`);
        const inOrder = inStage.every((v, i) => i === 0 || v > inStage[i - 1]!);
        if (!inOrder && !duplicates) problems.push(`${s.name}: readings out of stream order`);
        if (errors.length) problems.push(`${s.name}: errors ${errors.join('; ').slice(0, 400)}`);
      }
      return report;
    };

    return rig;
  } catch (error) {
    await close();
    throw error;
  }
}

/** One fault: `fault` takes a part away and brings it back, calling `outage()` while it is away. */
export interface FaultCase {
  name: string;
  title: string;
  /** Before the stage (not counted in it), e.g. a second collector joining. */
  prepare?(rig: FaultRig): Promise<void>;
  fault(rig: FaultRig, outage: () => Promise<void>): Promise<void>;
}

/** A Node part's crash: SIGKILL, the outage, then the same command again. */
async function crash(part: PartProcess, outage: () => Promise<void>): Promise<void> {
  await part.kill('SIGKILL');
  await outage();
  await part.start();
}

/**
 * Each part killed (SIGKILL: a crash, nothing flushed on the way out) and started again on the same
 * port and data, one at a time; the services through their test helpers.
 */
export const faultCases: FaultCase[] = [
  {
    name: 'redis',
    title: 'Redis killed and started again',
    fault: (rig, outage) => rig.redis.restart({ whileStopped: outage, signal: 'SIGKILL' }),
  },
  {
    name: 'mosquitto',
    title: 'Mosquitto killed and started again',
    fault: (rig, outage) => rig.mosquitto.restart({ whileStopped: outage, signal: 'SIGKILL' }),
  },
  {
    name: 'carbon',
    title: 'carbon killed and started again',
    async fault(rig, outage) {
      await rig.graphite.stopCarbon('SIGKILL');
      await outage();
      await rig.graphite.startCarbon();
    },
  },
  {
    name: 'carbon stalled',
    title: 'carbon stalled (SIGSTOP): the live stream goes on meanwhile',
    async fault(rig, outage) {
      const before = rig.subscribers.map((s) => s.received.length);
      rig.graphite.pauseCarbon();
      try {
        await outage();
      } finally {
        rig.graphite.resumeCarbon();
      }
      // The bus comes first and the store is fed from it: a stalled carbon holds no subscriber back.
      const during = rig.subscribers.filter((s, i) => s.received.length > before[i]!).length;
      if (during === 0) throw new Error('no subscriber received anything while carbon was stalled');
    },
  },
  { name: 'collector', title: 'the collector killed and started again', fault: (rig, outage) => crash(rig.collectors[0]!, outage) },
  { name: 'telemetry', title: 'the telemetry subgraph killed and started again', fault: (rig, outage) => crash(rig.telemetry, outage) },
  { name: 'router', title: 'the router killed and started again', fault: (rig, outage) => crash(rig.router, outage) },
  {
    name: 'two collectors',
    title: 'one of two collectors killed and started again',
    async prepare(rig) {
      const second = rig.collectors[1] ?? (await rig.addCollector('collector-b'));
      if (!second.running) await second.start();
    },
    fault: (rig, outage) => crash(rig.collectors[0]!, outage),
  },
];

/** The demo city's daemons, each on its own gateway account, counting the readings they answer (non-null FRC entries). */
async function startCountingDaemons(mosquitto: RunningMosquitto, scenario: Scenario) {
  const answered = { answers: 0, readings: 0 };
  const simulator = new IqrfDaemonSimulator({
    scenario,
    logger: silentLogger,
    connect: (credentials) => {
      const client = createMqttClient(mosquitto.url, { credentials, protocolVersion: 5 });
      const publish = client.publish.bind(client) as (...args: unknown[]) => unknown;
      (client as unknown as { publish: (...args: unknown[]) => unknown }).publish = (...args: unknown[]) => {
        try {
          const message = JSON.parse(String(args[1])) as {
            mType?: string;
            data?: { status?: number; rsp?: { result?: { sensors?: unknown[] } } };
          };
          if (message.mType === 'iqrfSensor_Frc' && message.data?.status === 0) {
            answered.answers++;
            answered.readings += (message.data.rsp?.result?.sensors ?? []).filter((entry) => entry !== null).length;
          }
        } catch {
          // not JSON: not an answer
        }
        return publish(...args);
      };
      return client;
    },
  });
  await simulator.start();
  for (const gateway of scenario.gateways)
    simulator.setCredentials(
      gateway.id,
      await mosquitto.account({ username: gatewayUsername(gateway.id), role: 'gateway', gatewayId: gateway.id }),
    );
  await simulator.listening();
  return { simulator, answered };
}

/** This process's copy of the live-bus stream, read with XRANGE from where it stopped. */
class StreamCopy {
  readonly readings: Array<{ reading: Reading; cursor: string; index: number }> = [];
  private readonly byCursor = new Map<string, number>();
  private readonly byKey = new Map<string, number>();
  private position = '0-0';

  constructor(private readonly bus: RedisLiveBus) {}

  async sync(): Promise<void> {
    for (;;) {
      const entries = await this.bus.readRange(this.position, 1_000);
      if (!entries.length) return;
      for (const entry of entries) {
        entry.readings.forEach((reading, i) => {
          const index = this.readings.length;
          const cursor = `${entry.position}:${i}`;
          this.readings.push({ reading, cursor, index });
          this.byCursor.set(cursor, index);
          const key = identity(reading);
          if (!this.byKey.has(key)) this.byKey.set(key, index);
        });
      }
      this.position = entries.at(-1)!.position;
    }
  }

  indexOfCursor(cursor: string): number | undefined {
    return this.byCursor.get(cursor);
  }

  firstIndexOf(reading: Reading): number | undefined {
    return this.byKey.get(identity(reading));
  }

  /** The subscriber's last event is the stream's last reading for its filter (or there is none). */
  caughtUp(subscriber: Subscriber): boolean {
    let last: number | undefined;
    for (let i = this.readings.length - 1; i >= 0; i--) {
      if (subscriber.matches(this.readings[i]!.reading)) {
        last = i;
        break;
      }
    }
    if (last === undefined) return true;
    const got = subscriber.received.at(-1);
    return got !== undefined && (this.indexOfCursor(got.cursor) ?? -1) >= last;
  }
}

/**
 * What makes two stream readings the same reading: the sensor and the daemon answer it came from
 * (`answerId`, when readings carry it), else the sensor and its time.
 */
function identity(reading: Reading): string {
  const answerId = (reading as { answerId?: string }).answerId;
  return answerId ? `${reading.sensorId}#${answerId}` : `${reading.sensorId}@${reading.time}`;
}

/** The counts of stages as a Markdown table. */
export function formatReport(reports: StageReport[]): string {
  const headers = [
    'case',
    's',
    'down s',
    'answered',
    'accepted',
    'stored/slots',
    'streamed',
    'stream dups',
    'subscribers got/owed',
    'missing',
    'dups',
    'ended/errors',
    'verdict',
  ];
  const rows = reports.map((r) => {
    const subs = r.subscribers;
    const sum = (f: (s: StageReport['subscribers'][number]) => number) => subs.reduce((a, s) => a + f(s), 0);
    return [
      r.name,
      r.seconds,
      r.downSeconds,
      r.answered,
      r.accepted,
      `${r.stored}/${r.storedExpected}`,
      r.streamed,
      r.streamDuplicates,
      `${sum((s) => s.got)}/${sum((s) => s.expected)}`,
      sum((s) => s.missing),
      sum((s) => s.duplicates),
      subs.filter((s) => s.errors.length).length,
      r.problems.length ? 'FAIL' : 'ok',
    ];
  });
  const cells = [headers, ...rows.map((row) => row.map(String))];
  const widths = headers.map((_, i) => Math.max(...cells.map((row) => row[i]!.length)));
  const line = (row: string[]) => `| ${row.map((cell, i) => cell.padEnd(widths[i]!)).join(' | ')} |`;
  return [line(headers), `| ${widths.map((w) => '-'.repeat(w)).join(' | ')} |`, ...cells.slice(1).map(line)].join('\n');
}

function describe(error: unknown): string {
  if (error instanceof Error) return error.message;
  const event = error as { type?: string; code?: unknown; reason?: unknown; message?: unknown; error?: unknown };
  if (typeof event?.code === 'number') return `closed ${event.code} ${String(event.reason ?? '')}`.trim();
  // A WebSocket error event (the socket could not open): its own message, or its error's.
  const cause = event?.error instanceof Error ? event.error.message : event?.message;
  return `${(error as object)?.constructor?.name ?? typeof error} ${event?.type ?? ''} ${String(cause ?? JSON.stringify(error))}`.slice(
    0,
    300,
  );
}

function lastLines(output: string, chars: number): string {
  return output
    .slice(-chars)
    .split('\n')
    .filter((line) => !/^\s+at /.test(line))
    .join('\n');
}

/** Polls `probe` until it is true; rejects after `timeoutMs` naming `what`. */
export async function until(probe: () => Promise<boolean>, timeoutMs: number, what: string, intervalMs = 200): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await probe()) return;
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
  throw new Error(`${what}: not within ${timeoutMs} ms`);
}
