/**
 * Ingest benchmark: readings/s from MQTT through the collector into Graphite and the live bus,
 * against a plain MQTT-to-carbon relay fed by the same load in the same run. Prints figures; not a test.
 *
 *     npx tsx bench/ingest.ts [--seconds 30] [--gateways 300] [--concurrency 32] [--rounds 1]
 *       [--variants relay,collector-real,collector-memory] [--profile DIR]
 *
 * Starts Mosquitto (locked: accounts and ACLs by its dynamic security plugin), Redis and Graphite
 * (carbon-cache + graphite-web) with the test helpers, the scenario `pisek`'s simulated IQRF
 * daemons in a child process (each with its own gateway account), then one variant after the other,
 * each in its own child process for the same time (see `lib/ingest-worker.ts`):
 * the relay, the collector on Graphite + Redis, the collector on the in-memory store and bus.
 * The collector polls with a 1 ms interval (a round starts as soon as the last one ended).
 */
import { fork, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { startGraphite, type GraphiteService } from '../test/support/services/graphite.ts';
import { startMosquitto, type RunningMosquitto } from '../test/support/services/mosquitto.ts';
import { startRedis, type RedisService } from '../test/support/services/redis.ts';
import type { MqttCredentials } from '#broker';
import { buildScenario } from '#simulator';
import { countBusReadings, settledGraphitePoints } from './lib/ingest-count.ts';
import { metricPaths, primeMetrics } from './lib/ingest-prime.ts';
import type { IngestRun, IngestVariant, IngestWorkerConfig } from './lib/ingest-worker.ts';
import { table } from './lib/table.ts';

const RELAY_PREFIX = 'relay';

interface Sample {
  at: number;
  simulatorCpuMs: number;
  machineBusyMs: number;
  machineTotalMs: number;
  servicesCpuMs: Record<string, number>;
}

/** The services this process started, by the name that appears in their command line. */
const SERVICES = ['mosquitto', 'redis-server', 'carbon-cache', 'graphite-manage'] as const;

interface Phase {
  run: IngestRun;
  simulatorCpuPct: number;
  machineCpuPct: number;
  servicesCpuPct: Record<string, number>;
  graphitePoints?: number;
  graphiteSettleMs?: number;
  busReadings?: number;
}

function script(name: string): string {
  return fileURLToPath(new URL(`./lib/${name}`, import.meta.url));
}

function forkTs(name: string, args: string[], nodeArgs: string[] = []): ChildProcess {
  return fork(script(name), args, { execArgv: ['--import', 'tsx', ...nodeArgs], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
}

/** CPU time (user + system, ms) of this process's children that run one of `SERVICES`, from /proc. */
function servicesCpu(): Record<string, number> {
  const cpu: Record<string, number> = {};
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      // Fields after the command (which may hold spaces) in parentheses: state ppid ... utime(14) stime(15).
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(fields[1]) !== process.pid) continue;
      const command = readFileSync(`/proc/${entry}/cmdline`, 'utf8');
      const service = SERVICES.find((name) => command.includes(name));
      if (service) cpu[service] = (cpu[service] ?? 0) + ((Number(fields[11]) + Number(fields[12])) * 1000) / CLOCK_TICKS;
    } catch {
      // the process ended meanwhile
    }
  }
  return cpu;
}
const CLOCK_TICKS = 100;

function machineTimes(): { busy: number; total: number } {
  let busy = 0;
  let total = 0;
  for (const { times } of cpus()) {
    const all = times.user + times.nice + times.sys + times.idle + times.irq;
    total += all;
    busy += all - times.idle;
  }
  return { busy, total };
}

/** The simulated daemons, each of which makes its own gateway account with `admin` (sent over IPC, not on the command line). */
async function startSimulator(mqttUrl: string, admin: MqttCredentials): Promise<{ child: ChildProcess; cpuMs(): Promise<number> }> {
  const child = forkTs('ingest-simulator.ts', [mqttUrl, 'pisek']);
  child.send({ admin });
  await new Promise<void>((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`simulator exited with ${code}`)));
    child.on('message', (message) => {
      if ((message as { ready?: boolean }).ready) resolve();
    });
  });
  return {
    child,
    cpuMs: () =>
      new Promise((resolve) => {
        const onMessage = (message: unknown) => {
          const cpu = (message as { cpu?: NodeJS.CpuUsage }).cpu;
          if (!cpu) return;
          child.off('message', onMessage);
          resolve((cpu.user + cpu.system) / 1000);
        };
        child.on('message', onMessage);
        child.send('cpu');
      }),
  };
}

async function runVariant(
  config: IngestWorkerConfig,
  simulatorCpuMs: () => Promise<number>,
  profileDir?: string,
): Promise<Omit<Phase, 'graphitePoints' | 'graphiteSettleMs' | 'busReadings'>> {
  const child = forkTs('ingest-worker.ts', [], profileDir ? ['--cpu-prof', '--cpu-prof-dir', profileDir] : []);
  // Over IPC rather than as an argument: the config holds the worker's MQTT password.
  child.send({ config });
  const sampling: Array<Promise<Sample>> = [];
  const sample = async (): Promise<Sample> => {
    const machine = machineTimes();
    const at = performance.now();
    const services = servicesCpu();
    return {
      at,
      simulatorCpuMs: await simulatorCpuMs(),
      machineBusyMs: machine.busy,
      machineTotalMs: machine.total,
      servicesCpuMs: services,
    };
  };
  const run = await new Promise<IngestRun>((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`${config.variant} worker exited with ${code} before reporting`)));
    child.on('message', (message) => {
      const { phase, result } = message as { phase?: string; result?: IngestRun };
      if (phase) sampling.push(sample());
      if (result) resolve(result);
    });
  });
  await new Promise((resolve) => (child.exitCode === null ? child.once('exit', resolve) : resolve(undefined)));
  const [start, end] = (await Promise.all(sampling)) as [Sample, Sample];
  const wall = end.at - start.at;
  return {
    run,
    simulatorCpuPct: (100 * (end.simulatorCpuMs - start.simulatorCpuMs)) / wall,
    machineCpuPct: (100 * (end.machineBusyMs - start.machineBusyMs)) / (end.machineTotalMs - start.machineTotalMs),
    servicesCpuPct: Object.fromEntries(
      SERVICES.map((name) => [name, (100 * ((end.servicesCpuMs[name] ?? 0) - (start.servicesCpuMs[name] ?? 0))) / wall]),
    ),
  };
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      seconds: { type: 'string', default: '30' },
      gateways: { type: 'string', default: '300' },
      concurrency: { type: 'string', default: '32' },
      variants: { type: 'string', default: 'relay,collector-real,collector-memory' },
      rounds: { type: 'string', default: '1' },
      /** Write a V8 CPU profile (.cpuprofile) of each worker into this folder. */
      profile: { type: 'string' },
    },
  });
  const seconds = Number(values.seconds);
  const gateways = Number(values.gateways);
  const concurrency = Number(values.concurrency);
  const rounds = Number(values.rounds);
  const variants = Array.from({ length: rounds }, () => values.variants.split(',') as IngestVariant[]).flat();

  const cleanups: Array<() => Promise<unknown>> = [];
  try {
    process.stderr.write('starting Mosquitto, Redis, Graphite...\n');
    const [mosquitto, redis, graphite] = (await Promise.all([startMosquitto(), startRedis(), startGraphite()])) as [
      RunningMosquitto,
      RedisService,
      GraphiteService,
    ];
    cleanups.push(
      () => mosquitto.stop(),
      () => redis.stop(),
      () => graphite.stop(),
    );
    const simulator = await startSimulator(mosquitto.url, mosquitto.admin);
    cleanups.push(async () => {
      simulator.child.send('stop');
      await new Promise((resolve) => simulator.child.once('exit', resolve));
    });

    const paths = metricPaths(buildScenario('pisek'), gateways, RELAY_PREFIX);
    process.stderr.write(`creating ${paths.collector.length + paths.relay.length} whisper files...\n`);
    const primeMs = await primeMetrics(
      graphite.carbonUrl,
      graphite.graphiteUrl,
      [...paths.collector, ...paths.relay],
      ['iot.*.*.*.*.*', `${RELAY_PREFIX}.*.*.*.*`],
    );
    process.stderr.write(`created in ${(primeMs / 1000).toFixed(0)} s\n`);

    // The broker is locked: the collector and the relay each connect with a collector account
    // (client id = username); the collector signs its requests' msgIds with the platform's secret.
    const collectorCredentials = await mosquitto.account({ username: 'bench-collector', role: 'collector' });
    const relayCredentials = await mosquitto.account({ username: 'bench-relay', role: 'collector' });
    const msgIdSecret = randomBytes(32).toString('base64url');

    const phases: Phase[] = [];
    for (const variant of variants) {
      process.stderr.write(`${variant}: ${seconds} s...\n`);
      const config: IngestWorkerConfig = {
        variant,
        seconds,
        gateways,
        concurrency,
        mqttUrl: mosquitto.url,
        credentials: variant === 'relay' ? relayCredentials : collectorCredentials,
        msgIdSecret,
        redisUrl: redis.url,
        graphiteUrl: graphite.graphiteUrl,
        carbonUrl: graphite.carbonUrl,
        relayPrefix: RELAY_PREFIX,
      };
      const startedAt = Date.now();
      const fromSeconds = Math.floor(startedAt / 1000) - 2;
      const measured = await runVariant(config, simulator.cpuMs, values.profile);
      const phase: Phase = { ...measured };
      if (variant !== 'collector-memory') {
        const pattern = variant === 'relay' ? `${RELAY_PREFIX}.*.*.*.*` : 'iot.*.*.*.*.*';
        const settled = await settledGraphitePoints(
          graphite.graphiteUrl,
          pattern,
          fromSeconds,
          Math.ceil(Date.now() / 1000) + 1,
          measured.run.slots,
        );
        phase.graphitePoints = settled.points;
        phase.graphiteSettleMs = settled.settleMs;
      }
      if (variant === 'collector-real') phase.busReadings = (await countBusReadings(redis.url, startedAt)).readings;
      phases.push(phase);
    }

    const rate = (phase: Phase) => (phase.run.readings * 1000) / phase.run.windowMs;
    const cpuPct = (phase: Phase) => (100 * phase.run.cpuMs) / phase.run.windowMs;
    const fixed = (n: number | undefined, digits = 0) => (n === undefined ? '-' : n.toFixed(digits));
    console.log(
      `\nIngest, scenario pisek: ${gateways} gateways, ${concurrency} in flight, ${seconds} s per variant, ${cpus().length} cores, Node ${process.versions.node}\n`,
    );
    console.log(
      table(
        [
          'variant',
          'readings/s',
          'FRC/s',
          'readings/CPU-s',
          'loop p99 ms',
          'RSS MB',
          'failed',
          'accepted total',
          'slots written',
          'in Graphite',
          'on bus',
          'drain s',
          'settle s',
        ],
        phases.map((phase) => [
          phase.run.variant,
          fixed(rate(phase)),
          fixed((phase.run.polls * 1000) / phase.run.windowMs),
          fixed(phase.run.readings / (phase.run.cpuMs / 1000)),
          fixed(phase.run.eventLoopDelayP99Ms, 1),
          fixed(phase.run.rssMb),
          phase.run.failedRequests,
          phase.run.readingsTotal,
          phase.run.slots,
          fixed(phase.graphitePoints),
          fixed(phase.busReadings),
          fixed(phase.run.drainMs / 1000, 1),
          fixed(phase.graphiteSettleMs === undefined ? undefined : phase.graphiteSettleMs / 1000, 1),
        ]),
      ),
    );
    console.log('');
    console.log(
      table(
        [
          'variant (CPU, % of one core)',
          'process under test',
          'simulator',
          ...SERVICES.map((name) => (name === 'graphite-manage' ? 'graphite-web' : name)),
          `machine (${cpus().length} cores = 100%)`,
          'of which other processes',
        ],
        phases.map((phase) => [
          phase.run.variant,
          `${fixed(cpuPct(phase))}%`,
          `${fixed(phase.simulatorCpuPct)}%`,
          ...SERVICES.map((name) => `${fixed(phase.servicesCpuPct[name])}%`),
          `${fixed(phase.machineCpuPct)}%`,
          `${fixed(phase.machineCpuPct - (cpuPct(phase) + phase.simulatorCpuPct + SERVICES.reduce((sum, name) => sum + (phase.servicesCpuPct[name] ?? 0), 0)) / cpus().length)}%`,
        ]),
      ),
    );
    // With several rounds, each variant's best run: the machine may be shared, and noise only slows down.
    const best = (variant: IngestVariant) => phases.filter((p) => p.run.variant === variant).sort((a, b) => rate(b) - rate(a))[0];
    const relay = best('relay');
    const real = best('collector-real');
    const memory = best('collector-memory');
    console.log(rounds > 1 ? `\nBest of ${rounds} rounds per variant:` : '');
    if (relay && real)
      console.log(
        `collector (Graphite + Redis) / relay: ${(rate(real) / rate(relay)).toFixed(2)}x readings/s, ${(real.run.readings / real.run.cpuMs / (relay.run.readings / relay.run.cpuMs)).toFixed(2)}x readings per CPU-second`,
      );
    if (relay && memory)
      console.log(
        `collector (memory) / relay: ${(rate(memory) / rate(relay)).toFixed(2)}x readings/s, ${(memory.run.readings / memory.run.cpuMs / (relay.run.readings / relay.run.cpuMs)).toFixed(2)}x readings per CPU-second`,
      );
    if (real && memory) console.log(`collector Graphite + Redis / memory: ${(rate(real) / rate(memory)).toFixed(2)}x readings/s`);
    console.log(
      '"slots written": distinct (series, second) pairs sent; Graphite keeps one point per series and second, so that is what it can show at most.',
    );
  } finally {
    for (const cleanup of cleanups.reverse())
      await cleanup().catch((error: unknown) => process.stderr.write(`cleanup: ${String(error)}\n`));
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exitCode = 1;
});
