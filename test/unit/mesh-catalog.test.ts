import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { MqttClient } from 'mqtt';
import { startEmbeddedBroker, type EmbeddedBroker } from '#broker';
import { IqrfClient, MeshCatalog } from '#iqrf';
import { silentLogger } from '#log';
import { FileGatewayRegistry, parseMeshSnapshot, type GatewayRecord } from '#registry';
import { buildScenario, scenarioRegistry, type IqrfDaemonSimulator } from '#simulator';
import { accountMaker, connectAs, startDaemons } from '../support/mqtt.ts';

/**
 * The mesh catalogue against simulated daemons over MQTT: what a failing gateway, node or radio
 * costs its readers, and what is kept of whom.
 */
describe('MeshCatalog', () => {
  const scenario = buildScenario('demo');
  const TIMEOUT_MS = 300;
  let broker: EmbeddedBroker;
  let client: MqttClient;
  let daemons: IqrfDaemonSimulator;
  let iqrf: IqrfClient;
  let registry: FileGatewayRegistry;
  let catalog: MeshCatalog;
  /** Every request the catalogue's client sent, as `<gatewayId> <mType>`. */
  const sent: string[] = [];
  const record = (id: string) => scenarioRegistry(scenario).find((g) => g.id === id)!;
  const newCatalog = () => new MeshCatalog(iqrf, { registry, timeoutMs: TIMEOUT_MS, breaker: { minBackoffMs: 60_000 } });

  beforeAll(async () => {
    broker = await startEmbeddedBroker({ port: 0, logger: silentLogger });
    const makeAccount = accountMaker(broker.accounts);
    daemons = await startDaemons(broker.url, scenario, makeAccount);
    client = await connectAs(broker.url, makeAccount, { username: 'api-catalog-test', role: 'api' });
    iqrf = new IqrfClient(client, { logger: silentLogger });
    await iqrf.start();
    const request = iqrf.request.bind(iqrf);
    iqrf.request = ((gatewayId: string, mType: string, ...rest: unknown[]) => {
      sent.push(`${gatewayId} ${mType}`);
      return (request as (...args: unknown[]) => Promise<never>)(gatewayId, mType, ...rest);
    }) as typeof iqrf.request;
  });
  afterAll(async () => {
    iqrf?.close();
    daemons?.stop();
    await client?.endAsync();
    await broker?.close();
  });
  beforeEach(async () => {
    registry = await FileGatewayRegistry.open();
    for (const gateway of scenarioRegistry(scenario)) await registry.add(gateway);
    catalog = newCatalog();
    sent.length = 0;
  });

  it("enumerates each node's binary outputs and lights (none without the peripheral), and keeps a silent node's", async () => {
    const austin = await catalog.mesh(record('austin-gw01'));
    expect(austin.actuators?.[21]).toEqual({ binaryOutputs: 2, lights: 0 });
    // Routers have neither peripheral: the daemon refuses both (ERROR_PNUM), which counts none.
    expect(austin.actuators?.[1]).toEqual({ binaryOutputs: 0, lights: 0 });
    const pisek = await catalog.mesh(record('pisek-gw001'));
    expect(pisek.actuators?.[1]).toEqual({ binaryOutputs: 0, lights: 2 });

    daemons.setNodeAnswers('austin-gw01', 21, false);
    try {
      catalog.invalidate('austin-gw01');
      const after = await catalog.mesh(record('austin-gw01'));
      expect(after.actuators?.[21]).toEqual({ binaryOutputs: 2, lights: 0 });
    } finally {
      daemons.setNodeAnswers('austin-gw01', 21, true);
    }
    // A snapshot kept before actuators were enumerated is still read back.
    expect(parseMeshSnapshot({ ...austin, actuators: undefined })).toBeDefined();
    expect(parseMeshSnapshot({ ...austin, actuators: { 21: { binaryOutputs: -1, lights: 0 } } })).toBeUndefined();
  });

  it('keeps the sensors of a node that does not answer, and the mesh LIVE, without asking again on every read', async () => {
    const gateway = record('austin-gw01');
    const before = await catalog.mesh(gateway);
    expect(before.freshness).toBe('LIVE');
    const [dead, ...alive] = before.bonded;
    daemons.setNodeAnswers(gateway.id, dead!, false);
    try {
      catalog.invalidate(gateway.id);
      const after = await catalog.mesh(gateway);
      expect(after.freshness).toBe('LIVE');
      expect(after.sensors[dead!]).toEqual(before.sensors[dead!]);
      expect(after.bonded).toEqual(before.bonded);
      expect(alive.length).toBeGreaterThan(0);

      sent.length = 0;
      for (let i = 0; i < 5; i++) expect((await catalog.mesh(gateway)).freshness).toBe('LIVE');
      expect(sent).toEqual([]);
    } finally {
      daemons.setNodeAnswers(gateway.id, dead!, true);
    }
  });

  it('answers at once from the last known mesh once a stuck radio failed a fetch, though its daemon answers heartbeats', async () => {
    const gateway = record('pisek-gw001');
    const live = await catalog.mesh(gateway);
    daemons.setRadioStuck(gateway.id, true);
    try {
      catalog.invalidate(gateway.id);
      const failed = await catalog.mesh(gateway);
      expect(failed).toMatchObject({ freshness: 'LAST_KNOWN', observedAt: live.observedAt, bonded: live.bonded });

      sent.length = 0;
      for (let i = 0; i < 5; i++) {
        // The daemon itself still answers: the gateway is heard.
        await iqrf.request(gateway.id, 'mngDaemon_Version', undefined, { timeoutMs: TIMEOUT_MS });
        const started = performance.now();
        expect((await catalog.mesh(gateway)).freshness).toBe('LAST_KNOWN');
        expect(performance.now() - started).toBeLessThan(TIMEOUT_MS);
      }
      expect(sent.filter((request) => !request.endsWith('mngDaemon_Version'))).toEqual([]);
    } finally {
      daemons.setRadioStuck(gateway.id, false);
    }
  });

  it("gives an id registered again by another tenant nothing of the first gateway's mesh", async () => {
    const first = record('pisek-gw001');
    const known = await catalog.mesh(first);
    expect(known.bonded.length).toBeGreaterThan(0);
    // Decommissioned (the registry forgets its mesh) and registered by another tenant; this
    // catalogue (a collector's, say) was not told.
    await registry.remove(first.id);
    const second: GatewayRecord = { ...first, tenant: 'austin-summit', registeredAt: new Date().toISOString(), nodes: {} };
    await registry.add(second);
    await registry.saveMesh(second.id, known);
    daemons.setRadioStuck(second.id, true);
    try {
      await expect(catalog.mesh(second)).rejects.toThrow(/did not answer/);
      await expect(newCatalog().mesh(second)).rejects.toThrow(/did not answer|not answering/);
    } finally {
      daemons.setRadioStuck(second.id, false);
    }
  });

  it('refetches in the background once a mesh is older than its reuse time, answering meanwhile from what it knows', async () => {
    let now = Date.now();
    const aging = new MeshCatalog(iqrf, { registry, timeoutMs: TIMEOUT_MS, ttlMs: 1_000, now: () => now });
    const gateway = record('austin-gw01');
    const first = await aging.mesh(gateway);
    now += 2_000;
    sent.length = 0;
    const stale = await aging.mesh(gateway);
    expect(stale).toMatchObject({ freshness: 'LAST_KNOWN', observedAt: first.observedAt });
    await expect.poll(async () => (await aging.mesh(gateway)).observedAt).not.toBe(first.observedAt);
    expect((await aging.mesh(gateway)).freshness).toBe('LIVE');
    expect(sent.filter((request) => request.endsWith('iqrfDb_GetNetworkTopology'))).toHaveLength(1);
  });
});
