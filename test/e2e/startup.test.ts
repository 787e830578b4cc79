import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tokenFor } from '../support/auth.ts';
import { eventually, graphql, take, wsClient } from '../support/graphql.ts';
import { freePort } from '../support/services/process.ts';

const repo = new URL('../../', import.meta.url).pathname;
const tsx = join(repo, 'node_modules/.bin/tsx');
/** A failed start must be told within this (tsx loads the modules first: seconds on a busy machine). */
const FAIL_WITHIN_MS = 20_000;

/** Variables of the caller's environment that would point the platform at real services. */
const REAL_SERVICES = [
  'REDIS_URL',
  'GRAPHITE_URL',
  'CARBON_URL',
  'MQTT_URL',
  'OPENSTACK_AUTH_URL',
  'CONTRAIL_URL',
  'KUBERNETES_URL',
  'KUBECONFIG',
  'SUPERGRAPH',
  'LOG_FORMAT',
];

interface Started {
  child: ChildProcess;
  output(): string;
  exited: Promise<{ code: number | null; ms: number }>;
}

/** `tsx platform/main.ts` (what `npm start` runs) in a temp DATA_DIR, every port free unless `env` says otherwise. */
function startPlatformProcess(dataDir: string, env: Record<string, string>): Started {
  const clean = Object.fromEntries(Object.entries(process.env).filter(([name]) => !REAL_SERVICES.includes(name)));
  const ports = { PORT: '0', MQTT_PORT: '0', DEVICES_PORT: '0', TELEMETRY_PORT: '0', INFRASTRUCTURE_PORT: '0', OPENDATA_PORT: '0' };
  const started = Date.now();
  const child = spawn(tsx, ['platform/main.ts'], {
    cwd: repo,
    env: { ...clean, ...ports, DATA_DIR: dataDir, HISTORY_BACKFILL: '0', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<{ code: number | null; ms: number }>((resolve) =>
    child.once('exit', (code) => resolve({ code, ms: Date.now() - started })),
  );
  return { child, output: () => output, exited };
}

/** The JSON log lines of an output (the banner and anything else left out). */
function logLines(output: string): Array<Record<string, unknown> & { level: number; raw: string }> {
  return output
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((raw) => ({ ...(JSON.parse(raw) as { level: number }), raw }));
}

/** A TCP port something listens on for the test's duration. */
async function busyPort(): Promise<{ port: number; server: Server }> {
  const server = createServer((socket) => socket.destroy());
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { port: (server.address() as { port: number }).port, server };
}

describe('start-up that explains itself', () => {
  let dataDir: string;
  const servers: Server[] = [];
  const children: ChildProcess[] = [];

  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'iot-startup-'));
  });

  afterAll(async () => {
    for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await Promise.all(servers.map((server) => new Promise((resolve) => server.close(resolve))));
    await rm(dataDir, { recursive: true, force: true });
  });

  const listening = async () => {
    const busy = await busyPort();
    servers.push(busy.server);
    return busy.port;
  };

  /**
   * Starts the platform with `env`, expects it to exit non-zero in time with exactly one error
   * line, naming `variable` and `address`, and no stack trace anywhere.
   */
  async function expectOneLine(env: Record<string, string>, variable: string, address: string): Promise<string> {
    const started = startPlatformProcess(dataDir, env);
    children.push(started.child);
    const { code, ms } = await started.exited;
    const output = started.output();
    expect(code, output).not.toBe(0);
    expect(ms, output).toBeLessThan(FAIL_WITHIN_MS);
    const errors = logLines(output).filter((line) => line.level >= 50);
    expect(errors, output).toHaveLength(1);
    const [line] = errors;
    expect(line!.msg).toContain(`${variable}=`);
    expect(line!.msg).toContain(address);
    expect(line!.msg).toContain(`set ${variable}`);
    expect(line!.err, 'no error object, no stack').toBeUndefined();
    expect(output).not.toMatch(/^\s+at /m);
    return line!.msg as string;
  }

  it('names PORT when the router port is in use', async () => {
    const port = await listening();
    const line = await expectOneLine({ PORT: String(port) }, 'PORT', `127.0.0.1:${port}`);
    expect(line).toBe(`PORT=${port}: 127.0.0.1:${port} is in use (another process listens there); set PORT to a free port`);
  });

  it('names MQTT_PORT when the embedded broker port is in use, and a subgraph port likewise', async () => {
    const port = await listening();
    await expectOneLine({ MQTT_PORT: String(port) }, 'MQTT_PORT', `127.0.0.1:${port}`);
    const subgraphPort = await listening();
    await expectOneLine({ TELEMETRY_PORT: String(subgraphPort) }, 'TELEMETRY_PORT', `127.0.0.1:${subgraphPort}`);
  });

  it('names REDIS_URL when Redis is unreachable, at once (no reconnecting first), its password hidden', async () => {
    const port = await freePort();
    const line = await expectOneLine({ REDIS_URL: `redis://:hunter2@127.0.0.1:${port}` }, 'REDIS_URL', `127.0.0.1:${port}`);
    expect(line).not.toContain('hunter2');
    expect(line).toContain('refused the connection');
  });

  it('names MQTT_URL when the broker is unreachable', async () => {
    const port = await freePort();
    await expectOneLine(
      { MQTT_URL: `mqtt://127.0.0.1:${port}`, MQTT_ADMIN_USERNAME: 'admin', MQTT_ADMIN_PASSWORD: 'secret' },
      'MQTT_URL',
      `127.0.0.1:${port}`,
    );
  });

  it('names GRAPHITE_URL or CARBON_URL, whichever is unreachable', async () => {
    const [dead, alive] = [await freePort(), await listening()];
    await expectOneLine(
      { GRAPHITE_URL: `http://127.0.0.1:${dead}`, CARBON_URL: `tcp://127.0.0.1:${alive}` },
      'GRAPHITE_URL',
      `127.0.0.1:${dead}`,
    );
    await expectOneLine(
      { GRAPHITE_URL: `http://127.0.0.1:${alive}`, CARBON_URL: `tcp://127.0.0.1:${dead}` },
      'CARBON_URL',
      `127.0.0.1:${dead}`,
    );
  });

  it('names KUBERNETES_URL when the real data center is configured and its Kubernetes does not answer', async () => {
    const [dead, alive] = [await freePort(), await listening()];
    const cloud = {
      SIMULATOR: 'off',
      OPENSTACK_AUTH_URL: `http://127.0.0.1:${alive}/v3`,
      OPENSTACK_USERNAME: 'u',
      OPENSTACK_PASSWORD: 'p',
      OPENSTACK_PROJECT: 'p',
      CONTRAIL_URL: `http://127.0.0.1:${alive}`,
    };
    await expectOneLine({ ...cloud, KUBERNETES_URL: `https://127.0.0.1:${dead}` }, 'KUBERNETES_URL', `127.0.0.1:${dead}`);
  });
});

describe('the platform on ports of its own choosing', () => {
  let dataDir: string;
  let started: Started;
  let routerUrl: string;
  const ports: Record<string, number> = {};

  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'iot-ports-'));
    for (const name of ['PORT', 'DEVICES_PORT', 'TELEMETRY_PORT', 'INFRASTRUCTURE_PORT', 'OPENDATA_PORT']) ports[name] = await freePort();
    started = startPlatformProcess(dataDir, {
      ...Object.fromEntries(Object.entries(ports).map(([name, port]) => [name, String(port)])),
      LOG_LEVEL: 'info',
    });
    await eventually(async () => started.output().includes('Ctrl-C stops it.') || started.child.exitCode !== null, 60_000);
    expect(started.child.exitCode, started.output()).toBeNull();
    routerUrl = `http://127.0.0.1:${ports.PORT}/graphql`;
  }, 90_000);

  afterAll(async () => {
    if (started.child.exitCode === null) {
      started.child.kill('SIGTERM');
      await started.exited;
    }
    await rm(dataDir, { recursive: true, force: true });
  });

  it('serves a query across all four subgraphs on the moved ports, the banner saying when /health answered', async () => {
    const output = started.output();
    for (const [name, port] of Object.entries(ports).filter(([name]) => name !== 'PORT')) {
      expect(output).toContain(`subgraph ${name.replace(/_PORT$/, '').toLowerCase()}`);
      expect(output).toContain(`http://127.0.0.1:${port}/graphql`);
    }
    expect(output).toMatch(/\/health answered 200 \d+\.\d s after the process started/);
    const health = await fetch(routerUrl.replace(/graphql$/, 'health'));
    expect(health.status).toBe(200);

    const token = await tokenFor('austin-summit');
    const result = await graphql(
      routerUrl,
      '{ gateway(id: "austin-gw01") { name node { name } sensors(quantity: CO2) { id latest { value } } } datasets { id } }',
      undefined,
      { token },
    );
    expect(result.errors).toBeUndefined();
    expect(result.data?.gateway?.node?.name).toBeTruthy();
    expect(result.data?.datasets?.length).toBeGreaterThan(0);
  });

  it('logs client errors below error level without a stack, and names the component once a line', async () => {
    const token = await tokenFor('austin-summit');
    const query = await graphql(routerUrl, '{ gateway(id: "no-such-gateway") { name } }', undefined, { token });
    expect(query.errors?.[0]?.extensions?.code).toBe('NOT_FOUND');
    // The gateway runtime logs the errors of subscription events: NOT_FOUND was an error line.
    const client = wsClient(routerUrl, { token });
    try {
      const [event] = await take(client, 'subscription { readings(gatewayId: "no-such-gateway") { value } }', 1);
      expect(JSON.stringify(event?.errors)).toContain('NOT_FOUND');
    } finally {
      await client.dispose();
    }
    const lines = await eventually(async () => {
      const all = logLines(started.output());
      return all.some((line) => line.raw.includes('no-such-gateway')) && all;
    });
    const mentions = lines.filter((line) => line.raw.includes('no-such-gateway'));
    for (const line of mentions) {
      expect(line.level, line.raw).toBeLessThan(50);
      expect(line.raw).not.toContain('"stack"');
    }
    expect(lines.filter((line) => line.level >= 50).map((line) => line.raw)).toEqual([]);
    for (const line of lines) expect(line.raw.match(/"component":/g), line.raw).toHaveLength(1);
    expect(
      lines.some((line) => line.component !== 'platform'),
      'child loggers name their own component',
    ).toBe(true);
  });
});
