/**
 * Subscription fan-out benchmark (not a test): N WebSocket clients, each subscribed to one
 * gateway's readings with `sensor { name room }` from the devices subgraph, through the router
 * and through a plain `ws` server that writes the same payload bytes (the reference).
 *
 *   npx tsx bench/fanout.ts [--subscribers 1000,5000,10000] [--scenario pisek] [--seconds 30]
 *                           [--poll-ms 10000] [--client-processes 2] [--warmup-seconds 12]
 *
 * The platform (broker, simulated city, subgraphs, collector) runs in this process; the router,
 * the plain server and the clients each in their own, so the servers' CPU and RSS are theirs
 * alone. Latency: from the reading's `time` (set when the collector accepted it) to receipt.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { DEVELOPMENT_SECRET, DEVELOPMENT_SUBGRAPH_SECRET, mintToken, Scope } from '#auth';
import { silentLogger } from '#log';
import type { Scenario } from '#simulator';
import type { Reading } from '#telemetry';
import { startPlatform } from '../platform/platform.ts';
import { composeSupergraph, subgraphs as subgraphList, type SubgraphName } from '#supergraph';
import {
  mergeHistograms,
  percentile,
  type ClientConfig,
  type ClientReport,
  type ProcessSample,
  type ServerReport,
} from './lib/fanout-protocol.ts';

const { values: args } = parseArgs({
  options: {
    subscribers: { type: 'string', default: '1000,5000' },
    scenario: { type: 'string', default: 'pisek' },
    seconds: { type: 'string', default: '30' },
    'poll-ms': { type: 'string', default: '10000' },
    'client-processes': { type: 'string', default: '2' },
    'warmup-seconds': { type: 'string', default: '12' },
    // `readings`: one event per reading; `batches`: `readingBatches`, one event per collected batch.
    operation: { type: 'string', default: 'readings' },
  },
});
const counts = args.subscribers.split(',').map(Number);
const seconds = Number(args.seconds);
const clientProcesses = Number(args['client-processes']);
const warmupMs = Number(args['warmup-seconds']) * 1000;
const batches = args.operation === 'batches';
if (!batches && args.operation !== 'readings') throw new Error(`--operation must be readings or batches, got "${args.operation}"`);
const field = batches ? 'readingBatches' : 'readings';
const query = `subscription Live($gatewayId: ID) { ${field}(gatewayId: $gatewayId) { value time sensor { name room } } }`;
const lib = (file: string) => fileURLToPath(new URL(`./lib/${file}`, import.meta.url));
const childArgv = ['--import', 'tsx', '--expose-gc'];

interface Row {
  server: 'router' | 'plain ws';
  subscribers: number;
  subscribed: number;
  upstreams?: number;
  delivered: number;
  expected: number;
  p50?: number;
  p99?: number;
  cpuPercent: number;
  /** This process: broker, simulated city, subgraphs, collector. */
  platformCpuPercent: number;
  rssMb: number;
  heapStartMb: number;
  heapEndMb: number;
  closed: Record<string, number>;
  slowConsumers: number;
}

class Child {
  readonly process: ChildProcess;
  #waiting: Array<{ type: string; resolve: (message: unknown) => void }> = [];
  constructor(file: string, argv: string[]) {
    this.process = fork(lib(file), argv, { execArgv: childArgv, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    this.process.on('message', (message: { type: string }) => {
      const index = this.#waiting.findIndex((w) => w.type === message.type);
      if (index >= 0) this.#waiting.splice(index, 1)[0]!.resolve(message);
    });
  }
  next<T>(type: string): Promise<T> {
    return new Promise((resolve, reject) => {
      this.#waiting.push({ type, resolve: resolve as (message: unknown) => void });
      this.process.once('exit', (code) => reject(new Error(`${type}: child exited with ${code}`)));
    });
  }
  send(message: unknown): void {
    if (this.process.connected) this.process.send(message as never);
  }
  async stop(): Promise<void> {
    if (this.process.exitCode !== null) return;
    const exited = new Promise((resolve) => this.process.once('exit', resolve));
    this.send({ type: 'close' });
    const kill = setTimeout(() => this.process.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(kill);
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function sample(server: Child): Promise<Extract<ServerReport, { type: 'sample' }>> {
  const reply = server.next<Extract<ServerReport, { type: 'sample' }>>('sample');
  server.send({ type: 'sample' });
  return reply;
}

async function main(): Promise<void> {
  const started = Date.now();
  process.stdout.write(`starting the platform (${args.scenario}, poll ${args['poll-ms']} ms)...\n`);
  const platform = await startPlatform({
    logger: silentLogger,
    scenario: args.scenario as Scenario['name'],
    simulate: true,
    mqttPort: 0,
    routerPort: 0,
    subgraphPorts: { devices: 0, telemetry: 0, infrastructure: 0, opendata: 0 },
    pollIntervalMs: Number(args['poll-ms']),
    // The router in its child process signs subgraph requests with the development secret.
    auth: { subgraphSecret: DEVELOPMENT_SUBGRAPH_SECRET },
  });
  // One operator's token for every client (the gateways are of two tenants): equal callers, so
  // the router shares one upstream subscription per gateway among them.
  const token = await mintToken({ scopes: [Scope.ADMIN], secret: DEVELOPMENT_SECRET, expiresIn: '12h' });
  const workDir = await mkdtemp(join(tmpdir(), 'fanout-'));
  const children: Child[] = [];
  try {
    const urls = Object.fromEntries(subgraphList.map(({ name }) => [name, platform.subgraphs[name].url])) as Record<SubgraphName, string>;
    const supergraphFile = join(workDir, 'supergraph.graphql');
    await writeFile(supergraphFile, await composeSupergraph(urls));
    const router = new Child('fanout-router.ts', [supergraphFile]);
    const plain = new Child('fanout-plain.ts', []);
    children.push(router, plain);
    const [routerUrl, plainUrl] = await Promise.all([
      router.next<{ url: string }>('listening'),
      plain.next<{ url: string }>('listening'),
    ]).then((r) => r.map((m) => m.url));

    // The names and rooms the plain server writes, as the router would answer them.
    const gateways = platform.scenario.gateways.map((g) => g.id).filter((id) => id.startsWith('pisek-'));
    const directory = await sensorDirectory(routerUrl!, token);
    process.stdout.write(
      `${gateways.length} gateways, ${directory.size} sensors; router ${routerUrl}, plain ${plainUrl} (${((Date.now() - started) / 1000).toFixed(0)} s)\n`,
    );

    // Readings per gateway in the measured window, and the plain server's feed.
    let window: Map<string, number> | undefined;
    let feedPlain = false;
    platform.bus.subscribe((readings: readonly Reading[]) => {
      if (window) for (const r of readings) window.set(r.gatewayId, (window.get(r.gatewayId) ?? 0) + 1);
      if (feedPlain) plain.send({ type: 'readings', frames: framesOf(readings, directory) });
    });

    const rows: Row[] = [];
    for (const count of counts) {
      for (const [name, server, url] of [
        ['router', router, routerUrl!],
        ['plain ws', plain, plainUrl!],
      ] as const) {
        feedPlain = name === 'plain ws';
        const perProcess = Math.ceil(count / clientProcesses);
        const clients = Array.from({ length: clientProcesses }, (_, i) => {
          const config: ClientConfig = {
            url,
            token,
            first: i * perProcess,
            count: Math.max(0, Math.min(perProcess, count - i * perProcess)),
            gateways,
            query,
            openBatch: 100,
          };
          return new Child('fanout-clients.ts', [JSON.stringify(config)]);
        });
        children.push(...clients);
        const opening = Date.now();
        const subscribed = await Promise.all(clients.map((c) => c.next<Extract<ClientReport, { type: 'subscribed' }>>('subscribed')));
        process.stdout.write(`${name}: ${count} clients connected in ${((Date.now() - opening) / 1000).toFixed(1)} s; warming up...\n`);
        await sleep(warmupMs);

        const before = await sample(server);
        const platformBefore = { cpu: process.cpuUsage(), at: Date.now() };
        const windowed = new Map<string, number>();
        window = windowed;
        clients.forEach((c) => c.send({ type: 'start-window' }));
        await sleep(seconds * 1000);
        const reports = Promise.all(clients.map((c) => c.next<Extract<ClientReport, { type: 'window' }>>('window')));
        clients.forEach((c) => c.send({ type: 'end-window' }));
        window = undefined;
        const windows = await reports;
        const after = await sample(server);
        const platformCpu = process.cpuUsage(platformBefore.cpu);
        const platformCpuPercent = ((platformCpu.user + platformCpu.system) / 1000 / (Date.now() - platformBefore.at)) * 100;

        const perGateway = new Map<string, number>();
        for (let i = 0; i < count; i++)
          perGateway.set(gateways[i % gateways.length]!, (perGateway.get(gateways[i % gateways.length]!) ?? 0) + 1);
        const expected = [...windowed].reduce((sum, [gatewayId, readings]) => sum + readings * (perGateway.get(gatewayId) ?? 0), 0);
        const histogram = mergeHistograms(windows.map((w) => w.histogram));
        const closed: Record<string, number> = {};
        for (const w of windows) for (const [code, n] of Object.entries(w.closed)) closed[code] = (closed[code] ?? 0) + n;
        rows.push({
          server: name,
          subscribers: count,
          subscribed: Math.min(
            after.subscribers,
            subscribed.reduce((sum, s) => sum + s.subscribed, 0),
          ),
          upstreams: after.upstreams,
          delivered: windows.reduce((sum, w) => sum + w.received, 0),
          expected,
          p50: percentile(histogram, 0.5),
          p99: percentile(histogram, 0.99),
          cpuPercent: cpuPercent(before.sample, after.sample),
          platformCpuPercent,
          rssMb: after.sample.rssBytes / 2 ** 20,
          heapStartMb: before.sample.heapBytes / 2 ** 20,
          heapEndMb: after.sample.heapBytes / 2 ** 20,
          closed,
          slowConsumers: after.slowConsumers - before.slowConsumers,
        });
        process.stdout.write(`${formatRow(rows.at(-1)!)}\n`);
        await Promise.all(clients.map((c) => c.stop()));
        children.splice(children.length - clients.length, clients.length);
        await sleep(2_000);
      }
    }
    printTable(rows);
  } finally {
    await Promise.all(children.map((c) => c.stop()));
    await platform.close();
    await rm(workDir, { recursive: true, force: true });
  }
}

async function sensorDirectory(routerUrl: string, token: string): Promise<Map<string, { name: string; room: string | null }>> {
  const response = await fetch(routerUrl, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: JSON.stringify({ query: '{ sensors { id name room } }' }),
  });
  const body = (await response.json()) as {
    data?: { sensors: Array<{ id: string; name: string; room: string | null }> };
    errors?: unknown;
  };
  if (!body.data) throw new Error(`cannot list the sensors: ${JSON.stringify(body.errors)}`);
  return new Map(body.data.sensors.map((s) => [s.id, { name: s.name, room: s.room }]));
}

/** The `payload` of the router's next frame for this reading, byte for byte. */
type Directory = Map<string, { name: string; room: string | null }>;

/** What the router sends for a bus batch: one frame per reading, or (batches) one per gateway. */
function framesOf(readings: readonly Reading[], directory: Directory): Array<{ gatewayId: string; payload: string }> {
  const item = (reading: Reading) => {
    const sensor = directory.get(reading.sensorId) ?? { name: reading.sensorId, room: null };
    return { value: reading.value, time: new Date(reading.time).toISOString(), sensor: { name: sensor.name, room: sensor.room } };
  };
  if (!batches) return readings.map((r) => ({ gatewayId: r.gatewayId, payload: JSON.stringify({ data: { readings: item(r) } }) }));
  const byGateway = new Map<string, Reading[]>();
  for (const r of readings) byGateway.set(r.gatewayId, [...(byGateway.get(r.gatewayId) ?? []), r]);
  return [...byGateway].map(([gatewayId, of]) => ({ gatewayId, payload: JSON.stringify({ data: { readingBatches: of.map(item) } }) }));
}

function cpuPercent(before: ProcessSample, after: ProcessSample): number {
  return ((after.cpuMicros - before.cpuMicros) / 1000 / (after.at - before.at)) * 100;
}

const ms = (value: number | undefined) => (value === undefined ? '-' : `${value} ms`);

function formatRow(row: Row): string {
  const share = row.expected ? ((row.delivered / row.expected) * 100).toFixed(1) : '-';
  const closed =
    Object.entries(row.closed)
      .map(([code, n]) => `${code}x${n}`)
      .join(' ') || '-';
  return [
    row.server.padEnd(8),
    String(row.subscribers).padStart(6),
    `${row.subscribed}`.padStart(6),
    `${row.upstreams ?? '-'}`.padStart(5),
    `${(row.delivered / seconds).toFixed(0)}/s`.padStart(9),
    `${share}%`.padStart(7),
    ms(row.p50).padStart(8),
    ms(row.p99).padStart(9),
    `${row.cpuPercent.toFixed(0)}%`.padStart(5),
    `${row.platformCpuPercent.toFixed(0)}%`.padStart(7),
    `${row.rssMb.toFixed(0)} MB`.padStart(8),
    `${row.heapStartMb.toFixed(0)}->${row.heapEndMb.toFixed(0)} MB`.padStart(13),
    closed.padStart(8),
  ].join(' | ');
}

function printTable(rows: Row[]): void {
  const header = [
    'server  ',
    '  subs',
    ' subsd',
    ' upst',
    ' events/s',
    ' deliv%',
    '     p50',
    '      p99',
    '  CPU',
    'platfm',
    '     RSS',
    ' live heap   ',
    ' closed',
  ].join(' | ');
  process.stdout.write(
    `\n${cpus().length} cores, ${seconds} s windows, scenario ${args.scenario}, poll ${args['poll-ms']} ms\n${header}\n`,
  );
  for (const row of rows) process.stdout.write(`${formatRow(row)}\n`);
  process.stdout.write('\nrouter / plain ws:\n');
  for (const count of counts) {
    const router = rows.find((r) => r.server === 'router' && r.subscribers === count);
    const plain = rows.find((r) => r.server === 'plain ws' && r.subscribers === count);
    if (!router || !plain) continue;
    process.stdout.write(
      `  ${count}: throughput ${(router.delivered / Math.max(1, plain.delivered)).toFixed(2)}x, p50 ${ms(router.p50)} vs ${ms(plain.p50)}, p99 ${ms(router.p99)} vs ${ms(plain.p99)}, CPU ${router.cpuPercent.toFixed(0)}% vs ${plain.cpuPercent.toFixed(0)}%, RSS ${router.rssMb.toFixed(0)} vs ${plain.rssMb.toFixed(0)} MB\n`,
    );
  }
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exit(1);
  },
);
