/**
 * Child process of `bench/fanout.ts`: the router alone in its process, so its CPU time and RSS are
 * its own. Reads the supergraph from the file named by its one argument; reports `listening`,
 * then a `sample` on each request.
 */
import { readFile } from 'node:fs/promises';
import { silentLogger } from '#log';
import { DEVELOPMENT_SUBGRAPH_SECRET } from '#auth';
import { developmentRouterAuth } from '../../router/src/plugins/auth.ts';
import { startRouter } from '../../router/src/gateway.ts';
import { sampleProcess, tellParent, type ServerCommand } from './fanout-protocol.ts';

const supergraph = await readFile(process.argv[2]!, 'utf8');
const router = await startRouter({ supergraph, port: 0, logger: silentLogger, auth: developmentRouterAuth(DEVELOPMENT_SUBGRAPH_SECRET) });
tellParent({ type: 'listening', url: router.url });
process.on('message', (command: ServerCommand) => {
  if (command.type === 'sample') {
    const { subscribers, upstreams } = router.subscriptions.fanout.stats();
    tellParent({
      type: 'sample',
      sample: sampleProcess(),
      subscribers,
      upstreams,
      slowConsumers: router.subscriptions.sendQueue.slowConsumers,
    });
  } else if (command.type === 'close') {
    void router.close().finally(() => process.exit(0));
  }
});
