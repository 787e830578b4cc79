import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { supergraphTargets } from '#supergraph';

const run = promisify(execFile);
const repo = new URL('../../', import.meta.url).pathname;

/** `docker-compose config` (Debian's docker-compose, no engine needed) with the repo's compose file. */
async function composeConfig(...args: string[]): Promise<string> {
  const { stdout } = await run('docker-compose', ['-f', 'docker-compose.yml', 'config', ...args], { cwd: repo });
  return stdout;
}

describe('docker-compose.yml', () => {
  it('is accepted by docker-compose config', async () => {
    await expect(composeConfig('-q')).resolves.toBe('');
  });

  it('runs every part of the platform beside Redis, Mosquitto and Graphite', async () => {
    const services = (await composeConfig('--services')).trim().split('\n').sort();
    expect(services).toEqual([
      'collector',
      'devices',
      'graphite',
      'infrastructure',
      'mosquitto',
      'mqtt-accounts',
      'opendata',
      'redis',
      'router',
      'seed',
      'simulator',
      'telemetry',
    ]);
  });

  it('serves each subgraph where schema/supergraph.compose.graphql says it is', async () => {
    const config = await composeConfig();
    const target = supergraphTargets.find((t) => t.file.endsWith('compose.graphql'))!;
    for (const url of Object.values(target.urls)) {
      const { hostname, port } = new URL(url);
      // The service of that name listens on that port (PORT in its environment).
      const service = new RegExp(`\\n  ${hostname}:\\n(?:    .*\\n|      .*\\n)*?      PORT: '?${port}'?\\n`);
      expect(config, `${hostname}:${port}`).toMatch(service);
    }
    expect(config).toMatch(/SUPERGRAPH: schema\/supergraph\.compose\.graphql/);
  });
});
