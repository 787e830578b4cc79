/**
 * Times devices-subgraph mesh queries in-process (resolvers + per-request loaders, no network):
 *   npx tsx bench/mesh.ts [root] [iterations]
 * `root` is a checkout of this repository (default: this one), so an older tree can be timed
 * beside the current one with the same script.
 * Meshes: the pisek scenario's 300 gateways (12 nodes each), and one full IQRF mesh of 239 nodes.
 */
import { createRequire } from 'node:module';
import { resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const [rootArgument, iterationsText = '200'] = process.argv.slice(2) as [string?, string?];
const root = resolve(rootArgument ?? fileURLToPath(new URL('..', import.meta.url)));
const iterations = Number(iterationsText);
const require = createRequire(`${root}/package.json`);
const { execute, parse } = (await import(pathToFileURL(require.resolve('graphql')).href)) as typeof import('graphql');
const { buildSubgraphSchema } = await import(pathToFileURL(require.resolve('@apollo/subgraph')).href);
const { typeDefs, resolvers } = await import(`${root}/subgraphs/devices/src/schema.ts`);
const { createDevicesContext } = await import(`${root}/subgraphs/devices/src/context.ts`);
const { buildScenario } = await import(`${root}/simulator/src/scenario.ts`);

type Topo = { address: number; vrn: number; zone: number; parent: number | null };
const sensor = { id: 'TEMP', type: 1, name: 'Temperature', unit: '°C', decimalPlaces: 1, frcs: [144] };
const records = new Map<string, unknown>();
const meshes = new Map<string, unknown>();
function add(id: string, tenant: string, nodes: Array<{ address: number; parent: number }>) {
  records.set(id, {
    id,
    name: id,
    tenant,
    arch: 'arm64',
    status: 'ACTIVE',
    location: { lat: 0, lon: 0 },
    registeredAt: '2026-01-01T00:00:00Z',
    nodes: {},
  });
  const topology: Topo[] = [
    { address: 0, vrn: 0, zone: 0, parent: null },
    ...nodes.map((n) => ({ address: n.address, vrn: n.address, zone: 1, parent: n.parent })),
  ];
  meshes.set(id, {
    incarnation: `${tenant}|2026-01-01T00:00:00Z`,
    topology,
    bonded: nodes.map((n) => n.address),
    sensors: Object.fromEntries(nodes.map((n) => [n.address, [sensor]])),
    observedAt: '2026-01-01T00:00:00Z',
    freshness: 'LIVE',
  });
}
for (const g of buildScenario('pisek').gateways) add(g.id, g.tenant, g.nodes);
// A full mesh: 239 nodes, 8 under the coordinator, each next one under the node 8 before it (up to 30 hops).
add(
  'full-239',
  'pisek-city',
  Array.from({ length: 239 }, (_, i) => ({ address: i + 1, parent: i < 8 ? 0 : i + 1 - 8 })),
);

const registry = {
  list: async () => [...records.values()],
  getMany: async (ids: readonly string[]) => ids.map((id) => records.get(id)),
};
const catalog = { mesh: async (record: { id: string }) => meshes.get(record.id) };
const sources = {
  registry,
  catalog,
  iqrf: { lastSeen: () => undefined },
  provisioner: {},
  openSensorIds: new Set<string>(),
  onlineWindowMs: 35_000,
  credentials: {},
};
const services = { logger: { child: () => services.logger }, exposeInternalErrors: false, startedAt: Date.now() };
const caller = { kind: 'user', subject: 'bench', tenant: null, scopes: ['devices:read', 'admin'] };
const schema = buildSubgraphSchema({ typeDefs, resolvers });

const queries: Record<string, string> = {
  'pisek gateways: nodes { address parent { address } hops }': `{ gateways { mesh { nodes { address parent { address } hops } } } }`,
  'full-239 gateway: nodes { address parent { address } hops }': `{ gateway(id: "full-239") { mesh { nodes { address parent { address } hops } } } }`,
  'full-239 gateway: nodes { parent { address hops parent { address } } } coordinator size': `{ gateway(id: "full-239") { mesh { size coordinator { hops } nodes { address hops parent { address hops parent { address } } } } } }`,
  'full-239 gateway: sensors { node { hops parent { address } } }': `{ gateway(id: "full-239") { sensors { id node { hops parent { address } } } } }`,
  'pisek gateways: sensors { node { hops parent { address } } }': `{ gateways { sensors { id node { hops parent { address } } } } }`,
};
const results: Record<string, unknown> = {};
for (const [label, text] of Object.entries(queries)) {
  const document = parse(text);
  const run = async () => {
    const result = await execute({ schema, document, contextValue: createDevicesContext(sources, services, caller) });
    if (result.errors?.length) throw new Error(`${label}: ${result.errors[0]!.message}`);
    return result.data;
  };
  results[label] = await run();
  for (let i = 0; i < Math.min(20, iterations); i++) await run(); // warm-up
  const times: number[] = [];
  for (let i = 0; i < iterations; i++) {
    const start = process.hrtime.bigint();
    await run();
    times.push(Number(process.hrtime.bigint() - start) / 1e6);
  }
  times.sort((a, b) => a - b);
  const mean = times.reduce((s, t) => s + t, 0) / times.length;
  console.log(
    `${label}\n  mean ${mean.toFixed(3)} ms  p50 ${times[Math.floor(times.length / 2)]!.toFixed(3)} ms  p95 ${times[Math.floor(times.length * 0.95)]!.toFixed(3)} ms  (${iterations} runs)`,
  );
}
const { createHash } = await import('node:crypto');
console.log('answers sha256', createHash('sha256').update(JSON.stringify(results)).digest('hex'));
process.exit(0);
