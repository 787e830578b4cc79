/**
 * What offline gateways cost a city-wide query (not a test): the full Pisek city (300 gateways)
 * in one process, `gateways { id status sensors { id } mesh { size observation { freshness } } }`
 * as the operator, `--rounds` times in a row for each state:
 *
 *   1. every gateway online (the reference, measured in the same run);
 *   2. 30 of them offline (their daemons hang), once the heartbeat has marked them OFFLINE;
 *   3. 30 more gateways in the registry that never answered at all (nothing known of their mesh):
 *      the first query after they appear, then the next ones (their breakers open).
 *
 *   npx tsx bench/offline-gateways.ts [--rounds 20]
 *
 * Before per-gateway breakers and last known meshes, one silent gateway made this query wait the
 * IQRF timeout (10 s) and answer `data: null`.
 */
import { parseArgs } from 'node:util';
import { mintToken, Scope, DEVELOPMENT_SECRET } from '#auth';
import { silentLogger } from '#log';
import { startPlatform } from '../platform/platform.ts';
import { table } from './lib/table.ts';

const { values: args } = parseArgs({ options: { rounds: { type: 'string', default: '20' } } });
const rounds = Number(args.rounds);
const QUERY = `{ gateways { id status sensors { id } mesh { size observation { freshness } } } }`;
const IQRF_TIMEOUT_MS = 5_000;

const platform = await startPlatform({
  logger: silentLogger,
  scenario: 'pisek',
  simulate: true,
  mqttPort: 0,
  routerPort: 0,
  subgraphPorts: { devices: 0, telemetry: 0, infrastructure: 0, opendata: 0 },
  pollIntervalMs: 10_000,
  heartbeatIntervalMs: 2_000,
  iqrfTimeoutMs: IQRF_TIMEOUT_MS,
});
const token = await mintToken({ scopes: [Scope.ADMIN], secret: DEVELOPMENT_SECRET });

interface Answer {
  ms: number;
  gateways: number;
  offline: number;
  lastKnown: number;
  errors: number;
}

async function ask(): Promise<Answer> {
  const started = performance.now();
  const response = await fetch(platform.routerUrl, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: JSON.stringify({ query: QUERY }),
  });
  const body = (await response.json()) as {
    data?: { gateways: Array<{ status: string; mesh: { observation: { freshness: string } } | null }> };
    errors?: unknown[];
  };
  const gateways = body.data?.gateways ?? [];
  return {
    ms: performance.now() - started,
    gateways: gateways.length,
    offline: gateways.filter((g) => g.status === 'OFFLINE').length,
    lastKnown: gateways.filter((g) => g.mesh?.observation.freshness === 'LAST_KNOWN').length,
    errors: body.errors?.length ?? 0,
  };
}

async function series(n: number): Promise<Answer[]> {
  const answers: Answer[] = [];
  for (let i = 0; i < n; i++) answers.push(await ask());
  return answers;
}

const percentile = (values: number[], p: number) =>
  [...values].sort((a, b) => a - b)[Math.min(values.length - 1, Math.floor((p / 100) * values.length))]!;
const row = (name: string, answers: Answer[]) => {
  const ms = answers.map((a) => a.ms);
  const last = answers.at(-1)!;
  return [
    name,
    answers.length,
    percentile(ms, 50).toFixed(0),
    percentile(ms, 99).toFixed(0),
    last.gateways,
    last.offline,
    last.lastKnown,
    last.errors,
  ];
};

try {
  // Every mesh observed once (the collector's first round), then the catalogue warm.
  const ids = (await platform.registry.list()).map((g) => g.id);
  while (!(await platform.registry.lastKnownMeshes(ids)).every(Boolean)) await new Promise((resolve) => setTimeout(resolve, 500));
  await ask();
  const online = await series(rounds);

  const hung = ids.filter((_, i) => i % 10 === 3);
  for (const id of hung) platform.simulator!.iqrf.hangAfter(id, 0);
  while ((await ask()).offline < hung.length) await new Promise((resolve) => setTimeout(resolve, 1_000));
  const offline = await series(rounds);

  for (let i = 1; i <= 30; i++) {
    const id = `pisek-never${String(i).padStart(2, '0')}`;
    await platform.registry.add({
      id,
      name: id,
      tenant: 'pisek-city',
      arch: 'ARM64',
      status: 'ONLINE',
      location: { lat: 49.3, lon: 14.1 },
      registeredAt: new Date().toISOString(),
      nodes: {},
    });
  }
  const first = [await ask()];
  const next = await series(rounds);

  console.log(`\n${platform.scenario.gateways.length} gateways (pisek), ${rounds} rounds each, IQRF timeout ${IQRF_TIMEOUT_MS} ms\n`);
  console.log(
    table(
      ['state', 'queries', 'p50 ms', 'p99 ms', 'gateways', 'OFFLINE', 'LAST_KNOWN', 'errors'],
      [
        row('all online (reference)', online),
        row('30 offline', offline),
        row('+30 never observed: first query', first),
        row('+30 never observed: next queries', next),
      ],
    ),
  );
  const p50 = (answers: Answer[]) =>
    percentile(
      answers.map((a) => a.ms),
      50,
    );
  console.log(
    `\n30 offline / all online (p50): ${(p50(offline) / p50(online)).toFixed(2)}x; never observed, next / all online: ${(p50(next) / p50(online)).toFixed(2)}x`,
  );
} finally {
  await platform.close();
}
