/**
 * `npm run reset [-- --all] [--force]` clears the demo state `npm start` keeps in DATA_DIR (default
 * `./.data`), so the next start is a fresh city: for SCENARIO (default `demo`), or every scenario
 * with `--all`, it deletes
 *
 *   registry-<scenario>.json        the gateway registry (gateways registered, their tenants, names, rooms)
 *   registry-<scenario>.mesh.json   the meshes the gateways' daemons last reported
 *   registry-<scenario>.grants.json the actuator grants tenants gave
 *   registry-<scenario>.actuators.jsonl  the actuators' audit trails, last states and events
 *   simulator-<scenario>.json       the simulated city: bonded nodes of the simulated coordinators and
 *                                   the simulated data center (projects, networks, vRouters, nodes, pods)
 *
 * and their half-written temporaries. Readings are not there: the in-memory store starts empty at
 * every start, and Graphite (GRAPHITE_URL) and Redis (REDIS_URL: then the registry is its hash
 * `iot:gateways`) are left alone. It refuses while a platform answers on PORT (default 4000) at
 * /health, since a running platform writes these files again: stop it first, or pass `--force`.
 */
import { readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { scenarioNames } from '#simulator';

const repoRoot = fileURLToPath(new URL('..', import.meta.url));

/** Whether the files of `scenario` (every scenario when undefined) include `name`. */
function isStateFile(name: string, scenario: string | undefined): boolean {
  const match = /^(registry|simulator)-([a-z0-9-]+?)((\.mesh|\.grants)?\.json|\.actuators\.jsonl)(\.\d+\.tmp)?$/.exec(name);
  return match !== null && (scenario === undefined || match[2] === scenario);
}

async function platformAnswers(port: number): Promise<boolean> {
  try {
    return (await fetch(`http://127.0.0.1:${port}/health`, { signal: AbortSignal.timeout(1_000) })).ok;
  } catch {
    return false;
  }
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { all: { type: 'boolean' }, force: { type: 'boolean' }, help: { type: 'boolean' } } });
  if (values.help) return void console.log('usage: npm run reset [-- --all] [--force]   (DATA_DIR, SCENARIO, PORT as for npm start)');
  const dataDir = process.env['DATA_DIR'] ?? join(repoRoot, '.data');
  const scenario = values.all ? undefined : (process.env['SCENARIO'] ?? 'demo');
  if (scenario !== undefined && !(scenarioNames as readonly string[]).includes(scenario))
    throw new Error(`SCENARIO must be one of ${scenarioNames.join(', ')}, got "${scenario}"`);
  const port = Number(process.env['PORT'] ?? '4000');
  if (!values.force && (await platformAnswers(port))) {
    throw new Error(`a platform answers on port ${port}: stop it (Ctrl-C) before resetting its state, or pass --force`);
  }
  const names = await readdir(dataDir).catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT') return [];
    throw error;
  });
  const doomed = names.filter((name) => isStateFile(name, scenario));
  for (const name of doomed) await rm(join(dataDir, name), { force: true });
  console.log(
    doomed.length
      ? `deleted from ${dataDir}: ${doomed.join(', ')}`
      : `nothing to delete in ${dataDir} (${scenario ? `scenario ${scenario}` : 'any scenario'})`,
  );
  if (process.env['REDIS_URL']) console.log('REDIS_URL is set: the registry in Redis (hash iot:gateways) was left alone');
}

main().catch((error: unknown) => {
  console.error(`reset failed: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
});
