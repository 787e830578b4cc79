import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually } from '../support/graphql.ts';
import { startRedis, type RedisService } from '../support/services/redis.ts';

const repo = new URL('../../', import.meta.url).pathname;
const tsx = join(repo, 'node_modules/.bin/tsx');

describe('a standalone subgraph (npm run subgraph:telemetry) on SIGTERM', () => {
  const children: ReturnType<typeof spawn>[] = [];
  let redis: RedisService;

  beforeAll(async () => {
    redis = await startRedis();
  });

  afterAll(async () => {
    for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await redis?.stop();
  });

  // Its Redis connections keep the process alive until `close()` ends them: a close that never
  // resolves shows as the 30 s deadline of runService ("did not stop in time", exit code 1).
  it('stops at once with exit code 0, outside the tests too (NODE_ENV not test: Apollo Server would add signal handlers)', async () => {
    const env = Object.fromEntries(
      Object.entries(process.env).filter(([name]) => !['NODE_ENV', 'REDIS_URL', 'GRAPHITE_URL', 'CARBON_URL', 'LOG_FORMAT'].includes(name)),
    );
    const child = spawn(tsx, ['subgraphs/telemetry/src/main.ts'], {
      cwd: repo,
      env: { ...env, PORT: '0', LOG_LEVEL: 'info', REDIS_URL: redis.url },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    children.push(child);
    let output = '';
    child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    await eventually(async () => output.includes('telemetry subgraph ready') || child.exitCode !== null, 30_000);
    expect(child.exitCode, output).toBeNull();

    const stopping = Date.now();
    child.kill('SIGTERM');
    const code = await exited;
    expect(code, output).toBe(0);
    expect(Date.now() - stopping).toBeLessThan(10_000);
    expect(output).not.toMatch(/did not stop in time/);
  }, 60_000);
});
