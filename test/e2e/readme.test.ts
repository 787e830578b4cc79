import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tokenFor } from '../support/auth.ts';
import { eventually, graphql, take, wsClient } from '../support/graphql.ts';

const repo = new URL('../../', import.meta.url).pathname;
const url = 'http://127.0.0.1:4000/graphql';

/** The GraphQL blocks of the README, by the name of the `<!-- example: name -->` before them. */
async function readmeExamples(): Promise<Record<string, string>> {
  const readme = await readFile(join(repo, 'README.md'), 'utf8');
  const examples: Record<string, string> = {};
  for (const match of readme.matchAll(/<!-- example: ([\w-]+) -->\s*```graphql\n([\s\S]*?)```/g)) examples[match[1]!] = match[2]!;
  return examples;
}

/** Runs the README's start command as a new user would, in its own process group. */
function npmStart(dataDir: string): ChildProcess {
  return spawn('npm', ['start'], {
    cwd: repo,
    env: { ...process.env, DATA_DIR: dataDir, LOG_LEVEL: 'warn' },
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

/** Ctrl-C in a terminal: SIGINT to the whole process group. Resolves once every process of it is gone. */
async function stop(child: ChildProcess): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  process.kill(-child.pid!, 'SIGINT');
  const result = await exited;
  await eventually(async () => !groupAlive(child), 15_000);
  return result;
}

function groupAlive(child: ChildProcess): boolean {
  try {
    process.kill(-child.pid!, 0);
    return true;
  } catch {
    return false;
  }
}

describe('the README, run against `npm start`', () => {
  let examples: Record<string, string>;
  let dataDir: string;
  let child: ChildProcess;
  /** The tokens `npm start` prints for the scenario's tenants: austin-gw01 is austin-summit's, the new gateway pisek-city's. */
  let austin: string;
  let pisek: string;

  beforeAll(async () => {
    [austin, pisek] = await Promise.all([tokenFor('austin-summit'), tokenFor('pisek-city')]);
    examples = await readmeExamples();
    dataDir = await mkdtemp(join(tmpdir(), 'iot-start-'));
    child = npmStart(dataDir);
  });

  afterAll(async () => {
    if (groupAlive(child)) process.kill(-child.pid!, 'SIGKILL');
    await rm(dataDir, { recursive: true, force: true });
  });

  it('has the examples the tests run', () => {
    expect(Object.keys(examples).sort()).toEqual(['after-mutation', 'mutation', 'query', 'subscription']);
  });

  it('brings the router up within 30 seconds', async () => {
    let output = '';
    child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const started = Date.now();
    const up = await eventually(
      async () => (await fetch(url.replace('/graphql', '/health')).catch(() => undefined))?.ok,
      30_000,
      200,
    ).catch(() => false);
    expect(up, `npm start did not come up; it printed:\n${output}`).toBe(true);
    expect(Date.now() - started).toBeLessThan(30_000);
  }, 40_000);

  it('answers the example query', async () => {
    const { data, errors } = await eventually(async () => {
      const response = await graphql(url, examples.query!, undefined, { token: austin });
      return response.data?.gateway?.sensors?.[0]?.latest ? response : undefined;
    });
    expect(errors).toBeUndefined();
    expect(data!.gateway).toMatchObject({
      name: 'Austin Convention Center, 3rd floor',
      status: 'ONLINE',
      node: { ready: true },
      vrouter: { name: 'austin-gw01' },
    });
    expect(data!.gateway.sensors).toHaveLength(20);
    expect(data!.intersections[0].name).toBe('Kollarova x Zizkova');
    expect(data!.parkingLots.length).toBeGreaterThan(0);
    expect(data!.datasets.length).toBeGreaterThan(0);
  });

  it('runs the example mutation, and the new gateway shows up with its Kubernetes node', async () => {
    const { data, errors } = await graphql(url, examples.mutation!, undefined, { token: pisek });
    expect(errors).toBeUndefined();
    expect(data!.registerGateway.gateway).toEqual({
      id: 'pisek-gw301',
      name: 'Pisek, Budovcova',
      tenant: 'pisek-city',
      status: 'PROVISIONING',
    });
    const gateway = await eventually(async () => {
      const response = await graphql(url, examples['after-mutation']!, undefined, { token: pisek });
      return response.data?.gateway?.node?.ready ? response.data.gateway : undefined;
    });
    expect(gateway).toMatchObject({ node: { name: 'pisek-gw301', ready: true }, vrouter: { name: 'pisek-gw301' } });
  });

  it('streams the example subscription', async () => {
    const client = wsClient(url, { token: austin });
    try {
      const events = await take(client, examples.subscription!, 5, 25_000);
      for (const event of events) {
        expect(event.errors).toBeUndefined();
        expect(event.data!.readings.sensor.gateway).toEqual({ name: 'Austin Convention Center, 3rd floor', node: { ready: true } });
      }
    } finally {
      await client.dispose();
    }
  }, 30_000);

  it('stops cleanly on Ctrl-C and keeps the registered gateway across a restart', async () => {
    let output = '';
    child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const { code, signal } = await stop(child);
    // npm itself ends by the signal; the platform under it must stop without an error.
    expect(code === 0 || signal === 'SIGINT').toBe(true);
    expect(output, output).not.toMatch(/stop failed|"level":60/);
    await expect(fetch(url)).rejects.toThrow();
    child = npmStart(dataDir);
    await eventually(async () => (await fetch(url.replace('/graphql', '/health')).catch(() => undefined))?.ok, 30_000, 200);
    const { data } = await graphql(url, '{ gateway(id: "pisek-gw301") { name tenant } }', undefined, { token: pisek });
    expect(data!.gateway).toEqual({ name: 'Pisek, Budovcova', tenant: 'pisek-city' });
    await stop(child);
  }, 60_000);
});
