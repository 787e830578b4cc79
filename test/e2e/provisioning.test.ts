import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Client } from 'graphql-ws';
import { pino } from 'pino';
import { Scope, type Caller } from '#auth';
import { silentLogger } from '#log';
import { MemoryIdempotencyStore, RedisIdempotencyStore, type IdempotencyStore } from '#registry';
import type { Platform } from '../../platform/platform.ts';
import type { CloudState } from '../../simulator/src/cloud/index.ts';
import { subgraphRequest, tenantScopes, tokenFor } from '../support/auth.ts';
import { eventually, graphql, wsClient, type GraphQLResponse } from '../support/graphql.ts';
import { startTestPlatform } from '../support/platform.ts';
import { startRedis, type RedisService } from '../support/services/redis.ts';

// The demo city's tenants: "pisek-city" (pisek-gw001..003) and "austin-summit" (austin-gw01).
const CITY = 'pisek-city';
const AUSTIN = 'austin-summit';

const REGISTER = /* GraphQL */ `
  mutation ($input: RegisterGatewayInput!) {
    registerGateway(input: $input) {
      gateway {
        id
        tenant
        arch
        status
        registeredAt
      }
      collector {
        podName
        namespace
        image
        nodeSelector {
          name
          value
        }
      }
      userErrors {
        code
        field
        message
      }
    }
  }
`;
const DECOMMISSION =
  'mutation ($input: DecommissionGatewayInput!) { decommissionGateway(input: $input) { decommissionedGatewayId userErrors { code field message } } }';
const DEPLOY =
  'mutation ($input: DeployCollectorInput!) { deployCollector(input: $input) { gateway { id } collector { podName } userErrors { code field message } } }';
const DISCOVER =
  'mutation ($input: DiscoverMeshInput!) { discoverMesh(input: $input) { discovery { id state waves } userErrors { code field message } } }';
const BOND = 'mutation ($input: BondNodeInput!) { bondNode(input: $input) { node { id } userErrors { code field message } } }';
const UNBOND = 'mutation ($input: UnbondNodeInput!) { unbondNode(input: $input) { removedAddress userErrors { code field message } } }';

function registration(id: string, overrides: Record<string, unknown> = {}) {
  return { id, name: `Gateway ${id}`, tenant: CITY, arch: 'ARM', location: { latitude: 49.31, longitude: 14.15 }, ...overrides };
}

/** Everything the simulated data center and daemons hold of one gateway. */
function footprint(platform: Platform, gatewayId: string) {
  const state: CloudState = platform.simulator!.cloud.state;
  return {
    node: state.nodes.has(gatewayId),
    vrouters: [...state.virtualRouters.values()].filter((r) => r.name === gatewayId).length,
    pods: [...state.pods.values()].filter((p) => p.metadata.labels['iot-platform.io/gateway'] === gatewayId).map((p) => p.metadata.name),
    daemon: platform.simulator!.iqrf.hasGateway(gatewayId),
  };
}

const nothing = { node: false, vrouters: 0, pods: [], daemon: false };

/** Every event of a subscription that ends by itself (rejects on an error or after `timeoutMs`). */
function collect(
  client: Client,
  query: string,
  variables: Record<string, unknown>,
  timeoutMs = 10_000,
): Promise<Array<Record<string, any>>> {
  return new Promise((resolve, reject) => {
    const events: Array<Record<string, any>> = [];
    const timer = setTimeout(
      () => reject(new Error(`subscription did not end within ${timeoutMs} ms (${events.length} events)`)),
      timeoutMs,
    );
    client.subscribe<Record<string, any>>(
      { query, variables },
      {
        next: (result) => (result.errors ? reject(new Error(JSON.stringify(result.errors))) : events.push(result.data!)),
        error: (error) => {
          clearTimeout(timer);
          reject(error instanceof Error ? error : new Error(JSON.stringify(error)));
        },
        complete: () => {
          clearTimeout(timer);
          resolve(events);
        },
      },
    );
  });
}

/** A subscription's events as they come, and how it ended; `dispose` unsubscribes. */
function follow(client: Client, query: string, variables: Record<string, unknown> = {}) {
  const followed = { events: [] as Array<Record<string, any>>, completed: false, failure: undefined as unknown, dispose: () => {} };
  followed.dispose = client.subscribe<Record<string, any>>(
    { query, variables },
    {
      next: (result) => (result.errors ? (followed.failure = result.errors) : followed.events.push(result.data!)),
      error: (error) => (followed.failure = error),
      complete: () => (followed.completed = true),
    },
  );
  return followed;
}

describe('provisioning through the router', () => {
  let platform: Platform;
  let url: string;
  let city: string;
  let austin: string;
  const as = (token: string) => ({ token });

  beforeAll(async () => {
    platform = await startTestPlatform({ startCollector: false });
    url = platform.routerUrl;
    [city, austin] = await Promise.all([tokenFor(CITY), tokenFor(AUSTIN)]);
  });

  afterAll(async () => {
    await platform?.close();
  });

  /** Registers a gateway of `tenant` and waits until its daemon answers (discovery needs it). */
  const registerOnline = async (id: string, token: string, tenant = CITY) => {
    const { data } = await graphql(url, REGISTER, { input: registration(id, { tenant }) }, as(token));
    expect(data!.registerGateway.userErrors).toEqual([]);
    await eventually(async () => (await platform.registry.getMany([id]))[0]?.status === 'ONLINE');
  };

  /**
   * Starts discoveries on the gateway until one's events reach `followed`, and that run ended
   * (runs take a few round trips in the simulator; a gateway is not decommissioned while one runs).
   */
  const discoverUntilSeen = async (gatewayId: string, token: string, followed: ReturnType<typeof follow>) => {
    await eventually(
      async () => {
        await graphql(url, DISCOVER, { input: { gatewayId, waves: 1 } }, as(token));
        await new Promise((resolve) => setTimeout(resolve, 100));
        return followed.events.length > 0;
      },
      10_000,
      200,
    );
    await eventually(async () => followed.events.some((event) => event.meshDiscovery.state !== 'RUNNING'), 5_000);
  };

  it('registers a gateway: labelled node, vRouter on the tenant network, collector pinned by arch, then ONLINE', async () => {
    const { data, errors } = await graphql(url, REGISTER, { input: registration('pisek-gw700') }, as(city));
    expect(errors).toBeUndefined();
    const payload = data!.registerGateway;
    expect(payload.userErrors).toEqual([]);
    expect(payload.gateway).toMatchObject({ id: 'pisek-gw700', tenant: CITY, arch: 'ARM', status: 'PROVISIONING' });
    expect(payload.collector).toMatchObject({ podName: expect.stringMatching(/^collector-pisek-gw700-[a-z0-9]{5}$/), namespace: CITY });
    expect(payload.collector.nodeSelector).toEqual(
      expect.arrayContaining([
        { name: 'kubernetes.io/arch', value: 'arm' },
        { name: 'kubernetes.io/hostname', value: 'pisek-gw700' },
      ]),
    );

    const state = platform.simulator!.cloud.state;
    expect(state.nodes.get('pisek-gw700')?.metadata.labels).toMatchObject({
      'iot-platform.io/tenant': CITY,
      'iot-platform.io/gateway': 'pisek-gw700',
      'kubernetes.io/arch': 'arm',
    });
    // Attached to the tenant's network: the vRouter serves the address spaces of pisek-city-iot, whose route target is its own.
    const network = state.virtualNetworks.find((n) => n.fq_name.join(':') === `default-domain:${CITY}:${CITY}-iot`)!;
    const others = state.virtualNetworks.filter((n) => n !== network);
    const routeTarget = (n: typeof network) => JSON.stringify(n['route_target_list']);
    expect(others.map(routeTarget)).not.toContain(routeTarget(network));
    const ipams = (o: Record<string, unknown>) => ((o['network_ipam_refs'] ?? []) as Array<{ uuid: string }>).map((r) => r.uuid);
    expect(ipams(state.findVirtualRouterByName('pisek-gw700')!)).toEqual(ipams(network));

    const pod = state.pods.get(`${CITY}/${payload.collector.podName}`)!;
    expect(pod.spec).toMatchObject({ nodeSelector: { 'kubernetes.io/arch': 'arm', 'kubernetes.io/hostname': 'pisek-gw700' } });
    const status = async () =>
      (await graphql(url, '{ gateway(id: "pisek-gw700") { status pods { name phase nodeName } } }', undefined, as(city))).data?.gateway;
    const online = await eventually(async () => {
      const gateway = await status();
      return gateway?.status === 'ONLINE' ? gateway : undefined;
    });
    // The scheduler bound the collector once the node was Ready, and the kubelet started it.
    expect(online.pods).toEqual([{ name: payload.collector.podName, phase: 'RUNNING', nodeName: 'pisek-gw700' }]);
    await eventually(async () => (await platform.registry.getMany(['pisek-gw700']))[0]?.status === 'ONLINE', 5_000);
    expect(platform.simulator!.iqrf.hasGateway('pisek-gw700')).toBe(true);
  });

  it('discovers the mesh: the subscription streams waves, progress and new nodes, which are then in the mesh', async () => {
    const before = platform.simulator!.iqrf.bondedNodes('pisek-gw002');
    const started = await graphql(url, DISCOVER, { input: { gatewayId: 'pisek-gw002', waves: 2 } }, as(city));
    expect(started.data!.discoverMesh).toMatchObject({ discovery: { state: 'RUNNING', waves: 2 }, userErrors: [] });
    const { id } = started.data!.discoverMesh.discovery;

    const client = wsClient(url, as(city));
    try {
      const subscription = `subscription ($gatewayId: ID!, $discoveryId: ID) {
        meshDiscovery(gatewayId: $gatewayId, discoveryId: $discoveryId) { wave waveState progress nodesTotal state newNodes { id address } discovery { id state } }
      }`;
      const events = (await collect(client, subscription, { gatewayId: 'pisek-gw002', discoveryId: id })).map((e) => e.meshDiscovery);
      expect(events.map((e) => e.wave)).toEqual([1, 1, 2, 2]);
      expect(events.map((e) => e.progress)).toEqual([0, 50, 50, 100]);
      expect(events[0]).toMatchObject({ waveState: 'SmartConnect.', newNodes: [], state: 'RUNNING' });
      expect(events.at(-1)).toMatchObject({ state: 'COMPLETED', nodesTotal: before.length + 4, discovery: { id, state: 'COMPLETED' } });
      const found = events.flatMap((e) => e.newNodes.map((n: { address: number }) => n.address));
      expect(found).toHaveLength(4);
      expect(events[1].newNodes[0].id).toBe(`pisek-gw002.${found[0]}`);

      const mesh = await graphql(url, '{ gateway(id: "pisek-gw002") { mesh { size nodes { address } } } }', undefined, as(city));
      expect(mesh.data!.gateway.mesh.size).toBe(before.length + 4);
      expect(mesh.data!.gateway.mesh.nodes.map((n: { address: number }) => n.address)).toEqual(expect.arrayContaining(found));
      expect(platform.simulator!.iqrf.bondedNodes('pisek-gw002')).toEqual(expect.arrayContaining(found));
    } finally {
      await client.dispose();
    }
  });

  it('re-deploys the collector: a new pod with the node selector, the old one gone', async () => {
    const [old] = footprint(platform, 'pisek-gw700').pods;
    const { data } = await graphql(url, DEPLOY, { input: { gatewayId: 'pisek-gw700' } }, as(city));
    expect(data!.deployCollector.userErrors).toEqual([]);
    const created = data!.deployCollector.collector.podName;
    expect(created).not.toBe(old);
    expect(footprint(platform, 'pisek-gw700').pods).toEqual([created]);
    expect(platform.simulator!.cloud.state.pods.get(`${CITY}/${created}`)?.spec).toMatchObject({
      nodeName: 'pisek-gw700',
      nodeSelector: { 'kubernetes.io/arch': 'arm' },
    });
  });

  it('decommissions a gateway: pod, vRouter, node and daemon gone, and the gateway with them', async () => {
    expect(footprint(platform, 'pisek-gw700')).toMatchObject({ node: true, vrouters: 1, daemon: true });
    const { data } = await graphql(url, DECOMMISSION, { input: { gatewayId: 'pisek-gw700' } }, as(city));
    expect(data!.decommissionGateway).toEqual({ decommissionedGatewayId: 'pisek-gw700', userErrors: [] });
    expect(footprint(platform, 'pisek-gw700')).toEqual(nothing);
    expect(await platform.registry.getMany(['pisek-gw700'])).toEqual([undefined]);
    const listed = await graphql(url, '{ gateways { id } gateway(id: "pisek-gw700") { id } }', undefined, as(city));
    expect(listed.errors?.[0]?.extensions?.code).toBe('NOT_FOUND');
    const ids = (await graphql(url, '{ gateways { id } }', undefined, as(city))).data!.gateways.map((g: { id: string }) => g.id);
    expect(ids).toContain('pisek-gw001');
    expect(ids).not.toContain('pisek-gw700');
  });

  it('leaves nothing behind when a step fails, in any system', async () => {
    const state = platform.simulator!.cloud.state;
    // Kubernetes refuses the collector pod: the node and the vRouter made before it are undone.
    state.injectFault({
      system: 'kubernetes',
      method: 'POST',
      path: new RegExp(`^/api/v1/namespaces/${CITY}/pods$`),
      status: 500,
      message: 'etcd is down',
    });
    const podRefused = await graphql(url, REGISTER, { input: registration('pisek-gw701') }, as(city));
    expect(podRefused.data!.registerGateway.gateway).toBeNull();
    expect(podRefused.data!.registerGateway.userErrors).toEqual([
      {
        code: 'UPSTREAM_ERROR',
        field: null,
        message: expect.stringMatching(
          /deploying its collector pod failed: Kubernetes: .*etcd is down; undone: creating its Contrail vRouter, creating its Kubernetes node$/,
        ),
      },
    ]);
    // Contrail refuses the vRouter: the node is undone.
    state.injectFault({ system: 'contrail', method: 'POST', path: /^\/virtual-routers$/, status: 503, message: 'config API unavailable' });
    const vrouterRefused = await graphql(url, REGISTER, { input: registration('pisek-gw702') }, as(city));
    expect(vrouterRefused.data!.registerGateway.userErrors[0]).toMatchObject({
      code: 'UPSTREAM_ERROR',
      message: expect.stringContaining('creating its Contrail vRouter failed'),
    });
    // Past the simulated kubelet's delay: no daemon booted on a node that existed for a moment.
    await new Promise((resolve) => setTimeout(resolve, 300));
    for (const id of ['pisek-gw701', 'pisek-gw702']) {
      expect(footprint(platform, id), id).toEqual(nothing);
      expect(await platform.registry.getMany([id])).toEqual([undefined]);
    }

    // Decommissioning that fails half-way puts back what it removed: the gateway stays whole.
    const registered = await graphql(url, REGISTER, { input: registration('pisek-gw703') }, as(city));
    const [pod] = footprint(platform, 'pisek-gw703').pods;
    state.injectFault({
      system: 'kubernetes',
      method: 'DELETE',
      path: /^\/api\/v1\/nodes\/pisek-gw703$/,
      status: 500,
      message: 'apiserver timeout',
    });
    const failed = await graphql(url, DECOMMISSION, { input: { gatewayId: 'pisek-gw703' } }, as(city));
    expect(failed.data!.decommissionGateway.decommissionedGatewayId).toBeNull();
    expect(failed.data!.decommissionGateway.userErrors[0]).toMatchObject({
      code: 'UPSTREAM_ERROR',
      message: expect.stringContaining('removing its Kubernetes node failed'),
    });
    expect(footprint(platform, 'pisek-gw703')).toMatchObject({ node: true, vrouters: 1, pods: [pod] });
    expect((await platform.registry.getMany(['pisek-gw703']))[0]?.registeredAt).toBe(registered.data!.registerGateway.gateway.registeredAt);
  });

  it('replays an idempotency key: same input, same result and one gateway; other input, a user error and no change', async () => {
    const input = { ...registration('pisek-gw710'), idempotencyKey: 'register-gw710-7f3a' };
    const first = await graphql(url, REGISTER, { input }, as(city));
    expect(first.data!.registerGateway.userErrors).toEqual([]);
    const retry = await graphql(url, REGISTER, { input }, as(city));
    expect(retry.data!.registerGateway.gateway).toEqual({ ...first.data!.registerGateway.gateway, status: expect.any(String) });
    expect(retry.data!.registerGateway.collector).toEqual(first.data!.registerGateway.collector);
    expect(retry.data!.registerGateway.userErrors).toEqual([]);
    expect(footprint(platform, 'pisek-gw710')).toMatchObject({
      node: true,
      vrouters: 1,
      pods: [first.data!.registerGateway.collector.podName],
    });

    const changed = await graphql(url, REGISTER, { input: { ...input, name: 'Another name' } }, as(city));
    expect(changed.data!.registerGateway).toMatchObject({
      gateway: null,
      collector: null,
      userErrors: [{ code: 'IDEMPOTENCY_KEY_REUSED', field: ['input', 'idempotencyKey'] }],
    });
    const otherMutation = await graphql(
      url,
      DEPLOY,
      { input: { gatewayId: 'pisek-gw710', idempotencyKey: input.idempotencyKey } },
      as(city),
    );
    expect(otherMutation.data!.deployCollector.userErrors[0].code).toBe('IDEMPOTENCY_KEY_REUSED');
    expect((await platform.registry.getMany(['pisek-gw710']))[0]?.name).toBe('Gateway pisek-gw710');
    expect(footprint(platform, 'pisek-gw710').pods).toEqual([first.data!.registerGateway.collector.podName]);

    // Two concurrent requests with one key: one acts, the other waits its turn or gets its result.
    const concurrent = { ...registration('pisek-gw711'), idempotencyKey: 'register-gw711-c0de' };
    const both = await Promise.all([
      graphql(url, REGISTER, { input: concurrent }, as(city)),
      graphql(url, REGISTER, { input: concurrent }, as(city)),
    ]);
    const outcomes = both.map((r) => r.data!.registerGateway.userErrors[0]?.code ?? r.data!.registerGateway.gateway.id).sort();
    expect([
      ['pisek-gw711', 'pisek-gw711'],
      ['IDEMPOTENCY_KEY_IN_USE', 'pisek-gw711'],
    ]).toContainEqual(outcomes);
    expect(footprint(platform, 'pisek-gw711')).toMatchObject({ node: true, vrouters: 1 });
    expect(footprint(platform, 'pisek-gw711').pods).toHaveLength(1);

    // A key is the caller's own: the same key from another tenant is another request.
    const elsewhere = await graphql(
      url,
      REGISTER,
      { input: { ...registration('austin-gw70', { tenant: AUSTIN }), idempotencyKey: input.idempotencyKey } },
      as(austin),
    );
    expect(elsewhere.data!.registerGateway.userErrors).toEqual([]);
  });

  it("reports another tenant's gateway as not found, exactly like an unknown one, and changes nothing", async () => {
    const bonded = platform.simulator!.iqrf.bondedNodes('pisek-gw002');
    // The gateway is shared (the lighting customer has its own collector pod on it): all of it stays.
    const before = footprint(platform, 'pisek-gw002');
    expect(before).toMatchObject({ node: true, vrouters: 1, daemon: true });
    expect(before.pods).toContain('collector-pisek-gw002');
    const cases: Array<[string, string, (gatewayId: string) => Record<string, unknown>]> = [
      [BOND, 'bondNode', (gatewayId) => ({ gatewayId })],
      [UNBOND, 'unbondNode', (gatewayId) => ({ gatewayId, address: bonded[0] })],
      [DISCOVER, 'discoverMesh', (gatewayId) => ({ gatewayId })],
      [DEPLOY, 'deployCollector', (gatewayId) => ({ gatewayId })],
      [DECOMMISSION, 'decommissionGateway', (gatewayId) => ({ gatewayId })],
    ];
    for (const [mutation, field, input] of cases) {
      const theirs = await graphql(url, mutation, { input: input('pisek-gw002') }, as(austin));
      const unknown = await graphql(url, mutation, { input: input('pisek-gw002x') }, as(austin));
      expect(theirs.errors, field).toBeUndefined();
      const { userErrors, ...objects } = theirs.data![field];
      expect(userErrors, field).toEqual([{ code: 'NOT_FOUND', field: ['input', 'gatewayId'], message: 'No gateway "pisek-gw002"' }]);
      expect(
        Object.values(objects).every((value) => value === null),
        field,
      ).toBe(true);
      expect(JSON.stringify(unknown.data![field]).replace('pisek-gw002x', 'pisek-gw002')).toBe(JSON.stringify(theirs.data![field]));
    }
    expect(platform.simulator!.iqrf.bondedNodes('pisek-gw002')).toEqual(bonded);
    expect(footprint(platform, 'pisek-gw002')).toEqual(before);

    // The subgraph holds the wall itself, for a request signed as the router signs it.
    const caller: Caller = { kind: 'user', subject: 'austin-dev', tenant: AUSTIN, scopes: tenantScopes };
    const direct = await subgraphRequest(
      platform.subgraphs.devices.url,
      { query: BOND, variables: { input: { gatewayId: 'pisek-gw002' } } },
      caller,
      platform.subgraphSecret,
    );
    expect(direct.data.bondNode.userErrors[0].code).toBe('NOT_FOUND');

    // Progress of another tenant's gateway is not theirs to follow either.
    const client = wsClient(url, as(austin));
    try {
      await expect(collect(client, 'subscription { meshDiscovery(gatewayId: "pisek-gw002") { wave } }', {})).rejects.toThrow(
        /NOT_FOUND|No gateway/,
      );
    } finally {
      await client.dispose();
    }
  });

  it('refuses registering for another tenant, and mutations without the scope, as FORBIDDEN', async () => {
    const forOthers = await graphql(url, REGISTER, { input: registration('pisek-gw720') }, as(austin));
    expect(forOthers.errors?.[0]?.extensions).toMatchObject({ code: 'FORBIDDEN' });
    expect(forOthers.data?.registerGateway ?? null).toBeNull();

    const readOnly = await tokenFor(CITY, [Scope.DEVICES_READ, Scope.INFRA_WRITE]);
    const noWrite = await graphql(url, REGISTER, { input: registration('pisek-gw721') }, as(readOnly));
    expect(noWrite.errors?.[0]?.extensions).toMatchObject({ code: 'FORBIDDEN', scope: 'devices:write' });
    const noBond = await graphql(url, BOND, { input: { gatewayId: 'pisek-gw002' } }, as(readOnly));
    expect(noBond.errors?.[0]?.extensions).toMatchObject({ code: 'FORBIDDEN', scope: 'devices:write' });

    const noInfra = await tokenFor(CITY, [Scope.DEVICES_READ, Scope.DEVICES_WRITE]);
    const decommission = await graphql(url, DECOMMISSION, { input: { gatewayId: 'pisek-gw002' } }, as(noInfra));
    expect(decommission.errors?.[0]?.extensions).toMatchObject({ code: 'FORBIDDEN', scope: 'infra:write' });

    for (const id of ['pisek-gw720', 'pisek-gw721']) expect(footprint(platform, id), id).toEqual(nothing);
    expect(footprint(platform, 'pisek-gw002')).toMatchObject({ node: true, vrouters: 1, daemon: true });
  });

  it('validates input into user errors naming the field', async () => {
    const cases: Array<[string, Record<string, unknown>, string, string[]]> = [
      [DISCOVER, { gatewayId: 'pisek-gw002', waves: 11 }, 'discoverMesh', ['input', 'waves']],
      [DISCOVER, { gatewayId: 'pisek-gw002', waves: 2, emptyWaves: 3 }, 'discoverMesh', ['input', 'emptyWaves']],
      [BOND, { gatewayId: 'pisek-gw002', name: ' ' }, 'bondNode', ['input', 'name']],
      [
        REGISTER,
        registration('pisek-gw730', { location: { latitude: 49, longitude: 200 } }),
        'registerGateway',
        ['input', 'location', 'longitude'],
      ],
      [REGISTER, { ...registration('pisek-gw731'), idempotencyKey: 'has spaces' }, 'registerGateway', ['input', 'idempotencyKey']],
    ];
    for (const [mutation, input, field, path] of cases) {
      const response: GraphQLResponse = await graphql(url, mutation, { input }, as(city));
      expect(response.data![field].userErrors, JSON.stringify(input)).toEqual([
        { code: 'BAD_USER_INPUT', field: path, message: expect.any(String) },
      ]);
    }
    expect(footprint(platform, 'pisek-gw730')).toEqual(nothing);

    // Kubernetes has a node of that name (the control plane's): the id is taken, and that node untouched.
    const taken = await graphql(url, REGISTER, { input: registration('k8s-master') }, as(city));
    // In development, the message says what Kubernetes answered (production: the next describe).
    expect(taken.data!.registerGateway.userErrors).toEqual([
      {
        code: 'ALREADY_EXISTS',
        field: null,
        message:
          'Provisioning gateway "k8s-master": creating its Kubernetes node failed: Kubernetes: POST /api/v1/nodes answered 409: nodes "k8s-master" already exists',
      },
    ]);
    expect(platform.simulator!.cloud.state.nodes.get('k8s-master')?.metadata.labels).not.toHaveProperty('iot-platform.io/gateway');
    expect(footprint(platform, 'k8s-master')).toMatchObject({ vrouters: 0, pods: [] });
  });

  it('tells in development what the system answered and what could not be undone', async () => {
    const state = platform.simulator!.cloud.state;
    state.injectFault({
      system: 'kubernetes',
      method: 'POST',
      path: new RegExp(`^/api/v1/namespaces/${CITY}/pods$`),
      status: 500,
      message: 'etcd is down',
    });
    state.injectFault({
      system: 'kubernetes',
      method: 'DELETE',
      path: /^\/api\/v1\/nodes\/pisek-gw704$/,
      status: 500,
      message: 'apiserver timeout',
    });
    const stuck = await graphql(url, REGISTER, { input: registration('pisek-gw704') }, as(city));
    expect(stuck.data!.registerGateway.userErrors).toEqual([
      {
        code: 'UPSTREAM_ERROR',
        field: null,
        message: expect.stringMatching(
          /^Provisioning gateway "pisek-gw704": deploying its collector pod failed: Kubernetes: .*etcd is down; undone: creating its Contrail vRouter; NOT undone \(clean up by hand\): creating its Kubernetes node: .*apiserver timeout$/,
        ),
      },
    ]);
  });

  it("refuses a taken id in the same words, whether the gateway is the caller's or another tenant's", async () => {
    const own = await graphql(url, REGISTER, { input: registration('pisek-gw001') }, as(city));
    expect(own.data!.registerGateway).toEqual({
      gateway: null,
      collector: null,
      userErrors: [{ code: 'ALREADY_EXISTS', field: ['input', 'id'], message: 'Gateway id "pisek-gw001" is not available' }],
    });
    const theirs = await graphql(url, REGISTER, { input: registration('austin-gw01') }, as(city));
    expect(JSON.stringify(theirs.data!.registerGateway).replace('austin-gw01', 'pisek-gw001')).toBe(
      JSON.stringify(own.data!.registerGateway),
    );
    expect((await platform.registry.getMany(['austin-gw01']))[0]?.tenant).toBe(AUSTIN);
  });

  it('keeps the idempotency keys of callers apart whatever characters their ids hold', async () => {
    // Joined with ":", subject "dev:x" with key "k" and subject "dev" with key "x:k" would be one key.
    const developer = (subject: string): Caller => ({ kind: 'user', subject, tenant: CITY, scopes: tenantScopes });
    const register = (id: string, idempotencyKey: string, subject: string) =>
      subgraphRequest(
        platform.subgraphs.devices.url,
        { query: REGISTER, variables: { input: { ...registration(id), idempotencyKey } } },
        developer(subject),
        platform.subgraphSecret,
      );
    const first = await register('pisek-gw750', 'k', 'dev:x');
    expect(first.data.registerGateway.userErrors).toEqual([]);
    const second = await register('pisek-gw751', 'x:k', 'dev');
    expect(second.data.registerGateway.userErrors).toEqual([]);
    expect(second.data.registerGateway.gateway.id).toBe('pisek-gw751');
  });

  it("ends a gateway's discovery subscriptions when it is decommissioned: a new owner of the id is neither followed nor shown the old runs", async () => {
    await registerOnline('pisek-gw740', city);
    const cityClient = wsClient(url, as(city));
    const austinClient = wsClient(url, as(austin));
    try {
      const following = follow(cityClient, 'subscription { meshDiscovery(gatewayId: "pisek-gw740") { state discovery { id } } }');
      await discoverUntilSeen('pisek-gw740', city, following);
      const cityRun = following.events[0]!.meshDiscovery.discovery.id;

      const { data } = await graphql(url, DECOMMISSION, { input: { gatewayId: 'pisek-gw740' } }, as(city));
      expect(data!.decommissionGateway.userErrors).toEqual([]);
      await eventually(async () => following.completed, 5_000);
      expect(following.failure).toBeUndefined();

      await registerOnline('pisek-gw740', austin, AUSTIN);
      const started = await graphql(url, DISCOVER, { input: { gatewayId: 'pisek-gw740', waves: 1 } }, as(austin));
      const austinRun = started.data!.discoverMesh.discovery.id;
      const theirs = await collect(
        austinClient,
        'subscription ($id: ID) { meshDiscovery(gatewayId: "pisek-gw740", discoveryId: $id) { state } }',
        { id: austinRun },
      );
      expect(theirs.at(-1)?.meshDiscovery.state).toBe('COMPLETED');
      expect(following.events.map((e) => e.meshDiscovery.discovery.id)).not.toContain(austinRun);
      // The city's run on the old gateway is not the new owner's to replay.
      await expect(
        collect(austinClient, 'subscription ($id: ID) { meshDiscovery(gatewayId: "pisek-gw740", discoveryId: $id) { state } }', {
          id: cityRun,
        }),
      ).rejects.toThrow(/NOT_FOUND|No mesh discovery/);
    } finally {
      await Promise.all([cityClient.dispose(), austinClient.dispose()]);
    }
  });

  it('checks the tenant with every discovery event: an id that another instance gave to another tenant is not followed', async () => {
    await registerOnline('pisek-gw741', city);
    const cityClient = wsClient(url, as(city));
    const austinClient = wsClient(url, as(austin));
    try {
      const following = follow(cityClient, 'subscription { meshDiscovery(gatewayId: "pisek-gw741") { state discovery { id } } }');
      await discoverUntilSeen('pisek-gw741', city, following);
      // Decommissioned and registered again by Austin elsewhere: this instance only sees the registry change.
      const [record] = await platform.registry.getMany(['pisek-gw741']);
      await platform.registry.remove('pisek-gw741');
      await platform.registry.add({ ...record!, tenant: AUSTIN });

      const started = await graphql(url, DISCOVER, { input: { gatewayId: 'pisek-gw741', waves: 1 } }, as(austin));
      const austinRun = started.data!.discoverMesh.discovery.id;
      await collect(austinClient, 'subscription ($id: ID) { meshDiscovery(gatewayId: "pisek-gw741", discoveryId: $id) { state } }', {
        id: austinRun,
      });
      await eventually(async () => following.completed, 5_000);
      expect(following.events.map((e) => e.meshDiscovery.discovery.id)).not.toContain(austinRun);
    } finally {
      await Promise.all([cityClient.dispose(), austinClient.dispose()]);
    }
  });
});

describe('provisioning through the router, in production', () => {
  let platform: Platform;
  let city: string;
  /** What the platform logged at warn and above, as JSON objects. */
  const logs: Array<Record<string, any>> = [];

  beforeAll(async () => {
    const logger = pino({ level: 'warn' }, { write: (line: string) => void logs.push(JSON.parse(line)) });
    platform = await startTestPlatform({ startCollector: false, hardening: { production: true }, logger });
    city = await tokenFor(CITY);
  });

  afterAll(async () => {
    await platform?.close();
  });

  it("names the failed step and the outcome in user errors; the systems' answers go to the log with the gateway id", async () => {
    const register = async (id: string) =>
      (await graphql(platform.routerUrl, REGISTER, { input: registration(id) }, { token: city })).data!.registerGateway;

    // Kubernetes has a node of that name: its answer (409, the node's name) stays in the log.
    expect((await register('k8s-master')).userErrors).toEqual([
      {
        code: 'ALREADY_EXISTS',
        field: null,
        message: 'Provisioning gateway "k8s-master": creating its Kubernetes node failed; nothing was changed',
      },
    ]);
    expect(logs).toContainEqual(
      expect.objectContaining({
        level: 40,
        gatewayId: 'k8s-master',
        step: 'creating its Kubernetes node',
        err: expect.objectContaining({ message: expect.stringContaining('answered 409: nodes "k8s-master" already exists') }),
      }),
    );

    // The pod is refused and the node's undo fails too: the operator is told, the client only that.
    const state = platform.simulator!.cloud.state;
    state.injectFault({
      system: 'kubernetes',
      method: 'POST',
      path: new RegExp(`^/api/v1/namespaces/${CITY}/pods$`),
      status: 500,
      message: 'etcd is down',
    });
    state.injectFault({
      system: 'kubernetes',
      method: 'DELETE',
      path: /^\/api\/v1\/nodes\/pisek-gw760$/,
      status: 500,
      message: 'apiserver timeout',
    });
    const stuck = await register('pisek-gw760');
    expect(stuck.userErrors).toEqual([
      {
        code: 'UPSTREAM_ERROR',
        field: null,
        message:
          'Provisioning gateway "pisek-gw760": deploying its collector pod failed; some steps could not be undone, the operator was told',
      },
    ]);
    expect(logs).toContainEqual(
      expect.objectContaining({
        level: 50,
        gatewayId: 'pisek-gw760',
        step: 'deploying its collector pod',
        err: expect.objectContaining({ message: expect.stringContaining('etcd is down') }),
        undoFailures: [expect.stringMatching(/^creating its Kubernetes node: .*apiserver timeout$/)],
      }),
    );

    // Our own refusals read the same in production.
    expect((await register('pisek-gw001')).userErrors).toEqual([
      { code: 'ALREADY_EXISTS', field: ['input', 'id'], message: 'Gateway id "pisek-gw001" is not available' },
    ]);
  });
});

describe('memory idempotency store', () => {
  it("bounds each caller's keys: a caller with too many loses its own oldest, never another's", async () => {
    const store = new MemoryIdempotencyStore({ maxEntriesPerOwner: 2, maxEntries: 4 });
    const remember = async (key: string, owner: string) => {
      const claim = await store.claim(key, 'fp', owner);
      if (claim.state !== 'claimed') throw new Error(`${key} is ${claim.state}`);
      await store.complete(claim, JSON.stringify({ key }));
    };
    await remember('quiet-1', 'quiet');
    for (const key of ['flood-1', 'flood-2', 'flood-3', 'flood-4', 'flood-5']) await remember(key, 'flood');
    expect(await store.claim('quiet-1', 'fp', 'quiet')).toEqual({ state: 'done', fingerprint: 'fp', result: '{"key":"quiet-1"}' });
    expect((await store.claim('flood-5', 'fp', 'flood')).state).toBe('done');
    expect((await store.claim('flood-4', 'fp', 'flood')).state).toBe('done');
    expect((await store.claim('flood-3', 'fp', 'flood')).state).toBe('claimed');
    await store.close();
  });
});

describe.each([
  ['memory', async () => ({ store: new MemoryIdempotencyStore() as IdempotencyStore, stop: async () => {} })],
  [
    'Redis',
    async () => {
      const redis: RedisService = await startRedis();
      const store = new RedisIdempotencyStore({ url: redis.url, logger: silentLogger });
      return { store: store as IdempotencyStore, stop: () => redis.stop() };
    },
  ],
])('%s idempotency store', (_name, open) => {
  let store: IdempotencyStore;
  let stop: () => Promise<void>;

  beforeAll(async () => {
    ({ store, stop } = await open());
  });

  afterAll(async () => {
    await store?.close();
    await stop?.();
  });

  it('claims a key once, keeps its result, and frees it on release', async () => {
    const claim = await store.claim('k1', 'fp-a', 'caller');
    expect(claim.state).toBe('claimed');
    expect(await store.claim('k1', 'fp-a', 'caller')).toEqual({ state: 'running', fingerprint: 'fp-a' });
    if (claim.state !== 'claimed') throw new Error('unreachable');
    await store.complete(claim, '{"gateway":"x"}');
    expect(await store.claim('k1', 'fp-b', 'caller')).toEqual({ state: 'done', fingerprint: 'fp-a', result: '{"gateway":"x"}' });

    const second = await store.claim('k2', 'fp-a', 'caller');
    if (second.state !== 'claimed') throw new Error(`k2 is ${second.state}`);
    await store.release(second);
    expect((await store.claim('k2', 'fp-c', 'caller')).state).toBe('claimed');
    // A stale claim (its key released and claimed again) can no longer store a result.
    await store.complete(second, '{"stale":true}');
    expect((await store.claim('k2', 'fp-c', 'caller')).state).toBe('running');
  });
});
