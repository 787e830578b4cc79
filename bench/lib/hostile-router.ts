/**
 * Child process of `bench/hostile.ts`: the router alone in its process, so that its CPU time and
 * RSS are its own. Arguments: the supergraph file, the subgraph secret, then `production` and/or
 * `persisted-only`. Reports `listening`, then a `sample` (CPU time so far, RSS after a full GC)
 * on each request.
 */
import { readFile } from 'node:fs/promises';
import { silentLogger } from '#log';
import { startRouter } from '../../router/src/gateway.ts';
import { developmentRouterAuth } from '../../router/src/plugins/auth.ts';

const [file, secret, ...flags] = process.argv.slice(2);
const supergraph = await readFile(file!, 'utf8');
const router = await startRouter({
  supergraph,
  port: 0,
  logger: silentLogger,
  auth: developmentRouterAuth(secret!),
  production: flags.includes('production'),
  ...(flags.includes('persisted-only') ? { persistedOperations: { documents: { 'sha256:none': '{ __typename }' }, only: true } } : {}),
});
const send = (message: object) => process.send!(message);
send({ type: 'listening', url: router.url });
process.on('message', (command: { type: string }) => {
  if (command.type === 'sample') {
    // Twice: the first collection frees what finalisers held.
    globalThis.gc?.();
    globalThis.gc?.();
    const cpu = process.cpuUsage();
    send({ type: 'sample', cpuMicros: cpu.user + cpu.system, rss: process.memoryUsage().rss });
  } else if (command.type === 'close') {
    void router.close().finally(() => process.exit(0));
  }
});
