import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { createServer as createHttpServer } from 'node:http';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { buildScenario, scenarioRegistry } from '#simulator';
import type { Platform } from '../../platform/platform.ts';
import { adminToken } from '../support/auth.ts';
import { eventually, graphql } from '../support/graphql.ts';
import { startTestPlatform } from '../support/platform.ts';
import { freePort } from '../support/services/process.ts';

const repo = new URL('../../', import.meta.url).pathname;

const GATEWAY = `query Gateway($id: ID!) {
  gateway(id: $id) { id status node { ready } vrouter { name } pods { name phase } mesh { nodes { address } } sensors { id quantity } }
}`;

describe('a restart of the platform', () => {
  const dirs: string[] = [];
  let platform: Platform | undefined;
  afterEach(async () => {
    await platform?.close();
    platform = undefined;
    await Promise.all(dirs.splice(0).map((dir) => rm(dir, { recursive: true, force: true })));
  });

  it('brings registered gateways back ONLINE with their bonded nodes and their data-center objects', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'iot-restart-'));
    dirs.push(dir);
    const files = { backends: { registryFile: join(dir, 'registry-demo.json') }, simulatorStateFile: join(dir, 'simulator-demo.json') };
    const token = await adminToken();
    platform = await startTestPlatform(files);
    const registered = await graphql(
      platform.routerUrl,
      `
        mutation {
          registerGateway(
            input: { id: "restart-gw1", name: "Restart", tenant: "pisek-city", arch: ARM64, location: { latitude: 49.3, longitude: 14.1 } }
          ) {
            gateway {
              id
            }
            userErrors {
              message
            }
          }
        }
      `,
      undefined,
      { token },
    );
    expect(registered.data?.registerGateway?.gateway, JSON.stringify(registered)).toEqual({ id: 'restart-gw1' });
    await eventually(
      async () => (await graphql(platform!.routerUrl, GATEWAY, { id: 'restart-gw1' }, { token })).data?.gateway?.status === 'ONLINE',
      20_000,
    );
    const bonded = await graphql(
      platform.routerUrl,
      `
        mutation {
          bondNode(input: { gatewayId: "restart-gw1", address: 7, name: "lab", room: "7" }) {
            node {
              id
            }
            userErrors {
              message
            }
          }
        }
      `,
      undefined,
      { token },
    );
    expect(bonded.data?.bondNode?.node, JSON.stringify(bonded)).toEqual({ id: 'restart-gw1.7' });
    const before = await eventually(async () => {
      const { data } = await graphql(platform!.routerUrl, GATEWAY, { id: 'restart-gw1' }, { token });
      return data?.gateway?.sensors?.length === 3 ? data.gateway : undefined;
    }, 20_000);
    await platform.close();
    platform = undefined;

    platform = await startTestPlatform(files);
    const after = await eventually(async () => {
      const { data } = await graphql(platform!.routerUrl, GATEWAY, { id: 'restart-gw1' }, { token });
      return data?.gateway?.status === 'ONLINE' && data.gateway.sensors?.length === 3 ? data.gateway : undefined;
    }, 20_000);
    expect(after.mesh.nodes.map((n: { address: number }) => n.address)).toEqual([7]);
    expect(after.sensors).toEqual(before.sensors);
    expect(after.node).toEqual({ ready: true });
    expect(after.vrouter).toEqual(before.vrouter);
    expect(after.vrouter).not.toBeNull();
    expect(after.pods).toEqual(before.pods);
    expect(after.pods).toEqual([expect.objectContaining({ phase: 'RUNNING' })]);
    // Its sensors are read again.
    await eventually(async () => (await platform!.store.latest([{ sensorId: 'restart-gw1.7.2', tenant: 'pisek-city' }]))[0], 10_000);
  }, 90_000);

  it('brings back a gateway the registry has but the simulator state file does not (an older .data)', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'iot-restart-'));
    dirs.push(dir);
    const records = scenarioRegistry(buildScenario('demo', 2016), new Date());
    records.push({
      id: 'legacy-gw1',
      name: 'Legacy',
      tenant: 'pisek-city',
      arch: 'ARM64',
      status: 'ONLINE',
      location: { lat: 49.3, lon: 14.1 },
      registeredAt: new Date().toISOString(),
      nodes: { 3: { name: 'n3', room: 'r3' } },
    });
    await writeFile(join(dir, 'registry-demo.json'), JSON.stringify(records));
    const token = await adminToken();
    platform = await startTestPlatform({
      backends: { registryFile: join(dir, 'registry-demo.json') },
      simulatorStateFile: join(dir, 'simulator-demo.json'),
    });
    const gateway = await eventually(async () => {
      const { data } = await graphql(platform!.routerUrl, GATEWAY, { id: 'legacy-gw1' }, { token });
      return data?.gateway?.status === 'ONLINE' && data.gateway.node?.ready && data.gateway.sensors?.length === 3
        ? data.gateway
        : undefined;
    }, 20_000);
    expect(gateway.mesh.nodes).toEqual([{ address: 3 }]);
    expect(gateway.vrouter).not.toBeNull();
  }, 60_000);
});

describe('npm run reset', () => {
  it('deletes the state files of the scenario, and of every scenario with --all', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'iot-reset-'));
    try {
      const names = [
        'registry-demo.json',
        'registry-demo.mesh.json',
        'registry-demo.grants.json',
        'registry-demo.actuators.jsonl',
        'registry-demo.actuators.jsonl.123.tmp',
        'simulator-demo.json',
        'registry-pisek.json',
        'registry-pisek.actuators.jsonl',
        'simulator-pisek.json',
        'notes.txt',
      ];
      for (const name of names) await writeFile(join(dir, name), '[]');
      const port = await freePort();
      const run = (...args: string[]) => runToEnd('npx', ['tsx', 'scripts/reset.ts', ...args], { DATA_DIR: dir, PORT: String(port) });
      expect((await run()).code).toBe(0);
      expect((await readdir(dir)).sort()).toEqual([
        'notes.txt',
        'registry-pisek.actuators.jsonl',
        'registry-pisek.json',
        'simulator-pisek.json',
      ]);
      // Refused while something answers /health on PORT.
      const server = createHttpServer((_req, res) => res.end('ok'));
      await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
      try {
        const refused = await run('--all');
        expect(refused.code).toBe(1);
        expect(refused.output).toMatch(/stop it/);
        expect((await readdir(dir)).length).toBe(4);
      } finally {
        server.closeAllConnections();
        await new Promise((resolve) => server.close(resolve));
      }
      expect((await run('--all')).code).toBe(0);
      expect(await readdir(dir)).toEqual(['notes.txt']);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }, 120_000);
});

describe('Ctrl-C of npm start', () => {
  let child: ChildProcess | undefined;
  const dirs: string[] = [];
  afterEach(async () => {
    if (child?.exitCode === null && child.signalCode === null) process.kill(-child.pid!, 'SIGKILL');
    await Promise.all(dirs.splice(0).map((dir) => rm(dir, { recursive: true, force: true })));
  });

  it('stops within 5 s with exit code 0 while gateways in the registry do not answer', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'iot-sigint-'));
    dirs.push(dir);
    // Five gateways whose daemons never answer: their Kubernetes nodes are gone (the simulator
    // runs no daemon without one) while the registry still has them.
    const records = scenarioRegistry(buildScenario('demo', 2016), new Date());
    const offline = ['gone-gw1', 'gone-gw2', 'gone-gw3', 'gone-gw4', 'gone-gw5'];
    for (const id of offline)
      records.push({
        id,
        name: id,
        tenant: 'pisek-city',
        arch: 'ARM64',
        status: 'ONLINE',
        location: { lat: 49.3, lon: 14.1 },
        registeredAt: new Date().toISOString(),
        nodes: { 1: { name: 'n1' } },
      });
    await writeFile(join(dir, 'registry-demo.json'), JSON.stringify(records));
    // The subgraphs of `npm start` listen on 4001-4004; wait for another test's platform to free them.
    await eventually(async () => (await Promise.all([4001, 4002, 4003, 4004].map(portFree))).every(Boolean), 120_000, 500);
    const [port, mqttPort] = [await freePort(), await freePort()];
    let output = '';
    // One process (`node --import tsx`, what `npm start` runs under tsx), so its own exit code is the one seen.
    child = spawn(process.execPath, ['--import', 'tsx', 'platform/main.ts'], {
      cwd: repo,
      env: {
        ...process.env,
        DATA_DIR: dir,
        PORT: String(port),
        MQTT_PORT: String(mqttPort),
        LOG_LEVEL: 'warn',
        HISTORY_BACKFILL: '0',
        POLL_INTERVAL: '2s',
      },
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
    await eventually(async () => (await fetch(`http://127.0.0.1:${port}/health`).catch(() => undefined))?.ok, 60_000, 200).catch(() => {
      throw new Error(`npm start did not come up:\n${output}`);
    });
    const kubernetes = await eventually(async () => /simulated Kubernetes\s+(\S+)/.exec(output)?.[1], 10_000);
    for (const id of offline) {
      const response = await fetch(`${kubernetes}/api/v1/nodes/${id}`, { method: 'DELETE' });
      expect(response.status, id).toBeLessThan(300);
    }
    // Polls of the offline gateways are in flight (their requests time out after 10 s).
    await eventually(async () => /FRC failed|cannot enumerate|did not answer/.test(output), 30_000, 200);
    const exited = new Promise<number | null>((resolve) => child!.once('exit', (code) => resolve(code)));
    const started = Date.now();
    process.kill(-child.pid!, 'SIGINT');
    const code = await exited;
    const tookMs = Date.now() - started;
    expect(code, output.slice(-3000)).toBe(0);
    expect(tookMs, output.slice(-3000)).toBeLessThan(5_000);
  }, 180_000);
});

function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

function runToEnd(command: string, args: string[], env: Record<string, string>): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve) => {
    const child = spawn(command, args, { cwd: repo, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.once('exit', (code) => resolve({ code, output }));
  });
}
