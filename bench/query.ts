/**
 * Query planner benchmark: requests/s, p50/p99 latency and router memory for a nested
 * four-subgraph query through the router with the Rust planner and with the JS planner, on the
 * same subgraphs in the same run. Prints figures; not a test.
 *
 *     npx tsx bench/query.ts [--seconds 20] [--connections 32] [--warmup 5]
 *
 * This process runs the platform (scenario `demo`: embedded broker, simulator, the four
 * subgraphs, in-memory store); the collector polls once so that `latest` has values, then
 * stops. Each router runs in its own child process (`lib/query-router.ts`) composed over those
 * subgraphs, and is loaded by a closed-loop generator in a third process (`lib/query-load.ts`):
 * first a warm-up, then the measured run; one planner after the other.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { cpus } from 'node:os';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { DEVELOPMENT_SECRET, DEVELOPMENT_SUBGRAPH_SECRET, mintToken, Scope } from '#auth';
import { silentLogger } from '#log';
import { startPlatform } from '../platform/platform.ts';
import type { QueryPlanner } from '../router/src/gateway.ts';
import { subgraphs as subgraphList, type SubgraphName } from '#supergraph';
import type { LoadConfig, LoadResult } from './lib/query-load.ts';
import type { RouterProcessStats } from './lib/query-router.ts';
import { table } from './lib/table.ts';

/** devices (gateways, sensors), infrastructure (node, vrouter), telemetry (latest), opendata (intersections, parking). */
export const OVERVIEW_QUERY = /* GraphQL */ `
  query Overview {
    gateways {
      id
      name
      status
      arch
      node {
        name
        ready
      }
      vrouter {
        name
      }
      sensors {
        id
        name
        room
        latest {
          value
          time
        }
      }
    }
    intersections {
      name
    }
    parkingLots {
      name
      capacity
      occupied
      free
    }
  }
`;

interface PlannerRun {
  planner: QueryPlanner;
  load: LoadResult;
  routerCpuPct: number;
  subgraphsCpuPct: number;
  router: RouterProcessStats;
  idleRssMb: number;
}

function forkTs(name: string, arg: unknown): ChildProcess {
  return fork(fileURLToPath(new URL(`./lib/${name}`, import.meta.url)), [JSON.stringify(arg)], {
    execArgv: ['--import', 'tsx'],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
}

/** The next message of `child` that has `key`. */
function reply<T>(child: ChildProcess, key: string, send?: string): Promise<T> {
  return new Promise((resolve, reject) => {
    const onExit = (code: number | null) => reject(new Error(`child exited with ${code} before sending ${key}`));
    const onMessage = (message: unknown) => {
      if (typeof message !== 'object' || message === null || !(key in message)) return;
      child.off('message', onMessage);
      child.off('exit', onExit);
      resolve((message as Record<string, T>)[key]!);
    };
    child.on('message', onMessage);
    child.once('exit', onExit);
    if (send) child.send(send);
  });
}

async function load(config: LoadConfig): Promise<LoadResult> {
  return reply<LoadResult>(forkTs('query-load.ts', config), 'result');
}

async function measurePlanner(
  planner: QueryPlanner,
  urls: Record<SubgraphName, string>,
  options: { seconds: number; connections: number; warmup: number; token: string },
): Promise<PlannerRun> {
  const child = forkTs('query-router.ts', { planner, subgraphs: urls });
  try {
    const url = await reply<string>(child, 'url');
    const idle = await reply<RouterProcessStats>(child, 'stats', 'stats');
    const { token } = options;
    const check = await load({ url, token, query: OVERVIEW_QUERY, connections: 1, seconds: 0.001 });
    if (check.errors) throw new Error(`${planner}: the query fails: ${check.firstError}`);
    if (options.warmup > 0) await load({ url, token, query: OVERVIEW_QUERY, connections: options.connections, seconds: options.warmup });
    const before = await reply<RouterProcessStats>(child, 'stats', 'stats');
    const mainCpu = process.cpuUsage();
    const result = await load({ url, token, query: OVERVIEW_QUERY, connections: options.connections, seconds: options.seconds });
    const main = process.cpuUsage(mainCpu);
    const after = await reply<RouterProcessStats>(child, 'stats', 'stats');
    return {
      planner,
      load: result,
      routerCpuPct: (100 * (after.cpuMs - before.cpuMs)) / result.wallMs,
      subgraphsCpuPct: (100 * (main.user + main.system)) / 1000 / result.wallMs,
      router: after,
      idleRssMb: idle.rssMb,
    };
  } finally {
    const exited = new Promise((resolve) => child.once('exit', resolve));
    if (child.exitCode === null) child.send('stop');
    await exited;
  }
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      seconds: { type: 'string', default: '20' },
      connections: { type: 'string', default: '32' },
      warmup: { type: 'string', default: '5' },
      planners: { type: 'string', default: 'rust,js' },
    },
  });
  // An operator's token: the query reads every tenant's gateways.
  const token = await mintToken({ scopes: [Scope.ADMIN], secret: DEVELOPMENT_SECRET, expiresIn: '12h' });
  const options = { seconds: Number(values.seconds), connections: Number(values.connections), warmup: Number(values.warmup), token };
  const planners = values.planners.split(',') as QueryPlanner[];

  const platform = await startPlatform({
    logger: silentLogger,
    scenario: 'demo',
    simulate: true,
    mqttPort: 0,
    routerPort: 0,
    subgraphPorts: { devices: 0, telemetry: 0, infrastructure: 0, opendata: 0 },
    pollIntervalMs: 3_600_000,
    startCollector: false,
    nodeReadyDelayMs: 100,
    // The routers in child processes sign subgraph requests with the development secret.
    auth: { subgraphSecret: DEVELOPMENT_SUBGRAPH_SECRET },
  });
  try {
    // One round of readings, so that `latest` answers with values; no background polling. (A
    // started collector spreads its round over the poll interval, and stopping it waits for that.)
    await platform.collector.pollAll();
    const urls = Object.fromEntries(subgraphList.map(({ name }) => [name, platform.subgraphs[name].url])) as Record<SubgraphName, string>;

    const runs: PlannerRun[] = [];
    for (const planner of planners) {
      process.stderr.write(`${planner} planner: ${options.warmup} s warm-up, ${options.seconds} s measured...\n`);
      runs.push(await measurePlanner(planner, urls, options));
    }

    const fixed = (n: number, digits = 0) => n.toFixed(digits);
    console.log(
      `\nQuery planners: query Overview (4 gateways, ${runs[0]?.load.responseBytes ?? 0} bytes an answer), ${options.connections} connections, ${options.seconds} s after ${options.warmup} s warm-up, ${cpus().length} cores, Node ${process.versions.node}\n`,
    );
    console.log(
      table(
        [
          'planner',
          'requests/s',
          'p50 ms',
          'p99 ms',
          'max ms',
          'errors',
          'router CPU',
          'subgraphs CPU',
          'load CPU',
          'router RSS idle MB',
          'router RSS after MB',
          'router RSS peak MB',
          'heap used MB',
        ],
        runs.map((run) => [
          run.planner,
          fixed((run.load.requests * 1000) / run.load.wallMs),
          fixed(run.load.p50Ms, 1),
          fixed(run.load.p99Ms, 1),
          fixed(run.load.maxMs, 1),
          run.load.errors,
          `${fixed(run.routerCpuPct)}%`,
          `${fixed(run.subgraphsCpuPct)}%`,
          `${fixed(run.load.cpuPct)}%`,
          fixed(run.idleRssMb),
          fixed(run.router.rssMb),
          fixed(run.router.peakRssMb),
          fixed(run.router.heapUsedMb),
        ]),
      ),
    );
    const rust = runs.find((run) => run.planner === 'rust');
    const js = runs.find((run) => run.planner === 'js');
    if (rust && js) {
      const rps = (run: PlannerRun) => run.load.requests / run.load.wallMs;
      console.log(
        `\nrust/js: ${(rps(rust) / rps(js)).toFixed(2)}x requests/s, p50 ${(rust.load.p50Ms / js.load.p50Ms).toFixed(2)}x, p99 ${(rust.load.p99Ms / js.load.p99Ms).toFixed(2)}x, peak RSS ${(rust.router.peakRssMb / js.router.peakRssMb).toFixed(2)}x, requests per router CPU-second ${(rps(rust) / rust.routerCpuPct / (rps(js) / js.routerCpuPct)).toFixed(2)}x`,
      );
    }
    for (const run of runs) if (run.load.firstError) console.log(`${run.planner}: first error: ${run.load.firstError}`);
  } finally {
    await platform.close();
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exitCode = 1;
});
