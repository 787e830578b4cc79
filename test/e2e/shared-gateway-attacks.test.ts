import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Platform } from '../../platform/platform.ts';
import type { CloudState } from '../../simulator/src/cloud/index.ts';
import { adminToken, tokenFor } from '../support/auth.ts';
import { eventually, graphql, take, wsClient, type GraphQLResponse } from '../support/graphql.ts';
import { startTestPlatform } from '../support/platform.ts';

// Attacks on the walls of shared gateways, through the router and the simulator's daemons and
// data center. The demo city (simulator/src/scenario.ts): pisek-city owns pisek-gw001..003; on
// gateway 1 the car park counters (nodes 2, 3) are pisek-parking's; on gateways 2 and 3 the
// street-light routers (nodes 1, 2) are pisek-lights'.
const CITY = 'pisek-city';
const PARKING = 'pisek-parking';
const LIGHTS = 'pisek-lights';
const GUEST = 'austin-summit';
const GW1 = 'pisek-gw001';
const GW2 = 'pisek-gw002';
const GW3 = 'pisek-gw003';

const ASSIGN = `mutation ($input: AssignNodesInput!) {
  assignNodes(input: $input) { gateway { id tenants } removedTenants userErrors { code field message } }
}`;
const REMOVE = `mutation ($input: RemoveGatewayTenantInput!) {
  removeGatewayTenant(input: $input) { gateway { id tenants } userErrors { code field message } }
}`;

/** What the simulated data center holds of `tenant` on a gateway: its collector pods and interfaces. */
function parts(state: CloudState, tenant: string, gatewayId: string) {
  return {
    pods: [...state.pods.values()]
      .filter((p) => p.metadata['namespace'] === tenant && p.metadata.labels['iot-platform.io/gateway'] === gatewayId)
      .map((p) => p.metadata.name).length,
    interfaces: state.virtualMachineInterfaces.filter(
      (i) => i.fq_name[1] === tenant && JSON.stringify(i['virtual_machine_interface_bindings']).includes(`"${gatewayId}"`),
    ).length,
  };
}

/** A promise and the function that settles it. */
function latch(): { promise: Promise<void>; open: () => void } {
  let open!: () => void;
  const promise = new Promise<void>((resolve) => (open = resolve));
  return { promise, open };
}

describe('shared gateways under attack', () => {
  let platform: Platform;
  let state: CloudState;
  let tokens: Record<string, string>;
  const ask = <T = Record<string, any>>(who: string, query: string, variables?: Record<string, unknown>): Promise<GraphQLResponse<T>> =>
    graphql<T>(platform.routerUrl, query, variables, { token: tokens[who] });
  const nodesOf = async (id: string) => (await platform.registry.getMany([id]))[0]!.nodes;
  /** Nodes of `gatewayId` no guest has: the owner's, free to give away. */
  const ownersNodes = async (gatewayId: string) => {
    const nodes = await nodesOf(gatewayId);
    return platform.simulator!.iqrf.bondedNodes(gatewayId).filter((address) => !nodes[address]?.tenant);
  };
  const assign = (gatewayId: string, addresses: number[], tenant: string) =>
    ask<{ assignNodes: { userErrors: Array<{ code: string }>; removedTenants: string[] } }>('admin', ASSIGN, {
      input: { gatewayId, addresses, tenant },
    });

  beforeAll(async () => {
    platform = await startTestPlatform({ backends: { memoryResolutionSeconds: 1 } });
    state = platform.simulator!.cloud.state;
    tokens = Object.fromEntries(await Promise.all([CITY, PARKING, LIGHTS, GUEST].map(async (t) => [t, await tokenFor(t)])));
    tokens['admin'] = await adminToken();
  });

  afterAll(async () => {
    await platform?.close();
  });

  it("does not tell a tenant who else is a guest of a gateway through the gateways' tenant filter", async () => {
    const gateways = async (who: string, tenant: string) =>
      (
        await ask<{ gateways: Array<{ id: string; tenants: string[] }> }>(
          who,
          'query ($t: String) { gateways(tenant: $t) { id tenants } }',
          {
            t: tenant,
          },
        )
      ).data!.gateways;
    // The owner sees its guests' nodes as anonymous hops, and `tenants` names none of them: nor may the filter.
    expect(await gateways(CITY, PARKING)).toEqual([]);
    expect(await gateways(CITY, LIGHTS)).toEqual([]);
    expect((await gateways(CITY, CITY)).map((g) => g.id)).toEqual([GW1, GW2, GW3]);
    expect((await gateways(CITY, CITY)).map((g) => g.tenants)).toEqual([[CITY], [CITY], [CITY]]);
    // A guest finds the owner, and itself; never another guest.
    expect(await gateways(PARKING, CITY)).toEqual([{ id: GW1, tenants: [CITY, PARKING] }]);
    expect((await gateways(LIGHTS, LIGHTS)).map((g) => g.id)).toEqual([GW2, GW3]);
    expect(await gateways(LIGHTS, PARKING)).toEqual([]);
    // Operators find every tenant.
    expect((await gateways('admin', PARKING)).map((g) => g.id)).toEqual([GW1]);
    expect((await gateways('admin', LIGHTS)).map((g) => g.id)).toEqual([GW2, GW3]);
  });

  it('keeps gateway-level operations from a guest: bonding, credentials, collector (FORBIDDEN), discovery (NOT_FOUND)', async () => {
    const podsBefore = state.pods.size;
    for (const mutation of [
      'bondNode(input: { gatewayId: $gw, address: 200 }) { node { id } userErrors { code } }',
      'rotateGatewayCredentials(input: { gatewayId: $gw }) { mqttCredentials { password } userErrors { code } }',
      'deployCollector(input: { gatewayId: $gw }) { collector { podName } userErrors { code } }',
    ]) {
      const { data, errors } = await ask(PARKING, `mutation ($gw: ID!) { ${mutation} }`, { gw: GW1 });
      expect(errors?.[0]?.extensions?.code, mutation).toBe('FORBIDDEN');
      // Its words name the gateway, not the owner nor any other tenant.
      expect(errors?.[0]?.message, mutation).not.toMatch(/pisek-(city|lights)/);
      expect(data ?? null, mutation).toBeNull();
    }
    expect(platform.simulator!.iqrf.bondedNodes(GW1)).not.toContain(200);
    expect(state.pods.size).toBe(podsBefore);
    // Following the gateway's mesh discoveries is the owner's too: to a guest there are none to follow.
    const client = wsClient(platform.routerUrl, { token: tokens[PARKING] });
    try {
      const [event] = await take(client, 'subscription ($gw: ID!) { meshDiscovery(gatewayId: $gw) { state } }', 1, 10_000, { gw: GW1 });
      expect(event!.errors).toMatchObject([{ extensions: { code: 'NOT_FOUND' } }]);
    } finally {
      await client.dispose();
    }
  });

  it('refuses an assignment planned on a record another assignment changed meanwhile, and rolls it back', async () => {
    const [a, b] = await ownersNodes(GW3);
    expect((await assign(GW3, [a!], GUEST)).data!.assignNodes.userErrors).toEqual([]);
    expect(parts(state, GUEST, GW3)).toEqual({ pods: 1, interfaces: 1 });

    // Node a goes back to the owner: the guest would have none left, so its parts go first. The
    // deletion of its pod is held while node b is given to the same guest.
    const arrived = latch();
    const release = latch();
    state.injectFault({
      system: 'kubernetes',
      method: 'DELETE',
      path: new RegExp(`^/api/v1/namespaces/${GUEST}/pods/`),
      hold: () => (arrived.open(), release.promise),
    });
    const back = assign(GW3, [a!], CITY);
    await arrived.promise;
    expect((await assign(GW3, [b!], GUEST)).data!.assignNodes.userErrors).toEqual([]);
    release.open();

    // The first was planned with the guest leaving: it must not remove the parts of a guest that
    // has a node again, nor record its own assignment on top.
    const refused = (await back).data!.assignNodes;
    expect(refused.userErrors).toMatchObject([{ code: 'CONFLICT' }]);
    const nodes = await nodesOf(GW3);
    expect([nodes[a!]?.tenant, nodes[b!]?.tenant]).toEqual([GUEST, GUEST]);
    expect(parts(state, GUEST, GW3)).toEqual({ pods: 1, interfaces: 1 });

    // Removing the guest while a node is given to it: that node goes back with the others.
    const removing = latch();
    const removal = latch();
    const [c] = await ownersNodes(GW3);
    state.injectFault({
      system: 'kubernetes',
      method: 'DELETE',
      path: new RegExp(`^/api/v1/namespaces/${GUEST}/pods/`),
      hold: () => (removing.open(), removal.promise),
    });
    const removed = ask<{ removeGatewayTenant: { userErrors: unknown[] } }>('admin', REMOVE, { input: { gatewayId: GW3, tenant: GUEST } });
    await removing.promise;
    expect((await assign(GW3, [c!], GUEST)).data!.assignNodes.userErrors).toEqual([]);
    removal.open();
    expect((await removed).data!.removeGatewayTenant.userErrors).toEqual([]);
    const after = await nodesOf(GW3);
    expect(Object.values(after).filter((meta) => meta.tenant === GUEST)).toEqual([]);
    expect(parts(state, GUEST, GW3)).toEqual({ pods: 0, interfaces: 0 });
  });

  it('gives a node bonded at an address the registry still gives a guest to the owner, not to that guest', async () => {
    // An earlier pole of the lighting customer at address 150 was unbonded with IQRF IDE, outside
    // the API: the registry still says the address is the customer's.
    await platform.registry.update(GW3, (record) => ({ ...record, nodes: { ...record.nodes, 150: { name: 'old pole', tenant: LIGHTS } } }));
    const bond = await ask(
      CITY,
      `mutation { bondNode(input: { gatewayId: "${GW3}", address: 150 }) { node { id tenant sensors { id } } userErrors { code } } }`,
    );
    expect(bond.errors).toBeUndefined();
    expect(bond.data!.bondNode).toMatchObject({ node: { id: `${GW3}.150`, tenant: CITY }, userErrors: [] });
    expect(bond.data!.bondNode.node.sensors).toHaveLength(3);
    expect((await nodesOf(GW3))[150]?.tenant).toBeUndefined();
    // The customer sees the city's new probe as a hop, and none of its sensors.
    const { data } = await ask<{ gateway: { mesh: { nodes: Array<{ address: number; role: string }> }; sensors: Array<{ id: string }> } }>(
      LIGHTS,
      `{ gateway(id: "${GW3}") { mesh { nodes { address role } } sensors { id } } }`,
    );
    expect(data!.gateway.mesh.nodes.find((n) => n.address === 150)).toEqual({ address: 150, role: 'HOP' });
    expect(data!.gateway.sensors.filter((s) => s.id.startsWith(`${GW3}.150.`))).toEqual([]);
    // It keeps its other nodes there, and so its collector and interface.
    expect(parts(state, LIGHTS, GW3)).toEqual({ pods: 1, interfaces: 1 });
  });

  it("keeps a node's readings with the tenant that had it when they were taken, as it moves both ways", async () => {
    const [room] = (await ownersNodes(GW2)).filter((address) => address > 2);
    const sensor = `${GW2}.${room}.0`;
    const READ = `query ($id: ID!) { sensor(id: $id) { latest { time } readings(from: "-10min") { time } } }`;
    type Read = { sensor: { latest: { time: string } | null; readings: Array<{ time: string }> } };
    const times = async (who: string) => {
      const { data, errors } = await ask<Read>(who, READ, { id: sensor });
      return errors ? errors[0]!.extensions!['code'] : data!.sensor.readings.map((r) => r.time);
    };
    await eventually(async () => {
      const read = await times(CITY);
      return Array.isArray(read) && read.length > 0;
    });

    expect((await assign(GW2, [room!], LIGHTS)).data!.assignNodes.userErrors).toEqual([]);
    expect(await times(CITY)).toBe('NOT_FOUND');
    const span = (read: string[]) => Date.parse(read.at(-1)!) - Date.parse(read[0]!);
    const lights = await eventually(async () => {
      const read = await times(LIGHTS);
      return Array.isArray(read) && read.length > 4 && span(read) > 6_000 ? read : undefined;
    }, 30_000);
    expect((await assign(GW2, [room!], CITY)).data!.assignNodes.userErrors).toEqual([]);
    expect(await times(LIGHTS)).toBe('NOT_FOUND');
    // The city reads its node again, with its own readings only: none of the customer's time with
    // it (its first and last 2 s aside: a poll in flight at an assignment is stamped when decoded).
    const city = await eventually(async () => {
      const read = await times(CITY);
      return Array.isArray(read) && read.some((time) => time > lights.at(-1)!) ? read : undefined;
    });
    const start = Date.parse(lights[0]!) + 2_000;
    const end = Date.parse(lights.at(-1)!) - 2_000;
    const middle = lights.filter((time) => Date.parse(time) > start && Date.parse(time) < end);
    expect(middle.length).toBeGreaterThan(0);
    expect(city.filter((time) => Date.parse(time) > start && Date.parse(time) < end)).toEqual([]);
    // The operator reads the node's series of its tenant now, the city's.
    const { data } = await ask<Read>('admin', READ, { id: sensor });
    expect(data!.sensor.readings.filter((r) => middle.includes(r.time))).toEqual([]);
  });

  it("serves the owner's reads of a shared gateway when a guest's collector pod was deleted by hand", async () => {
    const pod = [...state.pods.values()].find(
      (p) => p.metadata['namespace'] === LIGHTS && p.metadata.labels['iot-platform.io/gateway'] === GW2,
    )!;
    const { kubernetesUrl } = platform.simulator!.cloud;
    expect((await fetch(`${kubernetesUrl}/api/v1/namespaces/${LIGHTS}/pods/${pod.metadata.name}`, { method: 'DELETE' })).status).toBe(200);
    const query = `{ gateway(id: "${GW2}") { id tenants node { name } pods { name } vrouter { name interfaces { tenant } } mesh { size } sensors { id } } }`;
    const owner = await ask(CITY, query);
    expect(owner.errors).toBeUndefined();
    expect(owner.data!.gateway).toMatchObject({ id: GW2, tenants: [CITY], node: { name: GW2 }, vrouter: { name: GW2, interfaces: [] } });
    expect(owner.data!.gateway.pods.map((p: { name: string }) => p.name)).toEqual([`collector-${GW2}`]);
    // The guest still sees its part of the gateway (its interface), and no pod of anyone.
    const guest = await ask(LIGHTS, query);
    expect(guest.errors).toBeUndefined();
    expect(guest.data!.gateway).toMatchObject({
      tenants: [CITY, LIGHTS],
      node: { name: GW2 },
      pods: [],
      vrouter: { interfaces: [{ tenant: LIGHTS }] },
    });
    // Removing the guest still works with its pod gone: only its interface is left to remove.
    const removed = await ask<{ removeGatewayTenant: { userErrors: unknown[]; gateway: { tenants: string[] } } }>('admin', REMOVE, {
      input: { gatewayId: GW2, tenant: LIGHTS },
    });
    expect(removed.data!.removeGatewayTenant).toEqual({ gateway: { id: GW2, tenants: [CITY] }, userErrors: [] });
    expect(parts(state, LIGHTS, GW2)).toEqual({ pods: 0, interfaces: 0 });
  });
});
