/**
 * Child process of `bench/query.ts`: one router with the given query planner over running
 * subgraphs, alone in its process so that its memory and CPU are measured apart.
 *
 * Forked with IPC; argument: the JSON of `{ planner, subgraphs: Record<SubgraphName, url> }`.
 * Sends `{ url }` once listening; answers `'stats'` with `{ stats: RouterProcessStats }`; closes on `'stop'`.
 */
import { silentLogger } from '#log';
import { composeSupergraph, type SubgraphName } from '#supergraph';
import { DEVELOPMENT_SUBGRAPH_SECRET } from '#auth';
import { developmentRouterAuth } from '../../router/src/plugins/auth.ts';
import { startRouter, type QueryPlanner } from '../../router/src/gateway.ts';

export interface RouterProcessStats {
  /** CPU time (user + system) since the process started, ms. */
  cpuMs: number;
  rssMb: number;
  /** Highest RSS sampled every 250 ms since the last `'stats'`, MB. */
  peakRssMb: number;
  heapUsedMb: number;
}

async function main(): Promise<void> {
  if (!process.send || !process.argv[2]) throw new Error('usage: fork(query-router.ts, [JSON { planner, subgraphs }]) with an IPC channel');
  const { planner, subgraphs } = JSON.parse(process.argv[2]) as { planner: QueryPlanner; subgraphs: Record<SubgraphName, string> };
  const router = await startRouter({
    supergraph: await composeSupergraph(subgraphs),
    port: 0,
    logger: silentLogger,
    planner,
    auth: developmentRouterAuth(DEVELOPMENT_SUBGRAPH_SECRET),
  });
  let peak = 0;
  const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 250);
  process.on('message', (message) => {
    if (message === 'stats') {
      const memory = process.memoryUsage();
      const cpu = process.cpuUsage();
      const stats: RouterProcessStats = {
        cpuMs: (cpu.user + cpu.system) / 1000,
        rssMb: memory.rss / 2 ** 20,
        peakRssMb: Math.max(peak, memory.rss) / 2 ** 20,
        heapUsedMb: memory.heapUsed / 2 ** 20,
      };
      peak = 0;
      process.send!({ stats });
    }
    if (message === 'stop') {
      clearInterval(sampler);
      void router.close().finally(() => process.exit(0));
    }
  });
  process.send({ url: router.url });
}

main().catch((error: unknown) => {
  process.stderr.write(`query router: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});
