import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Caller } from '#auth';
import type { Platform } from '../../platform/platform.ts';
import type { CloudState } from '../../simulator/src/cloud/index.ts';
import { adminToken, subgraphRequest, tenantScopes, tokenFor } from '../support/auth.ts';
import { graphql } from '../support/graphql.ts';
import { startTestPlatform } from '../support/platform.ts';

// The demo city: "pisek-city" owns pisek-gw001..003; "austin-summit" owns austin-gw01 and becomes
// a guest of pisek-gw002 here. The scenario makes pisek-gw002 shared already ("pisek-lights").
const OWNER = 'pisek-city';
const GUEST = 'austin-summit';
const GATEWAY = 'pisek-gw002';

const ASSIGN = /* GraphQL */ `
  mutation ($input: AssignNodesInput!) {
    assignNodes(input: $input) {
      gateway {
        id
        tenants
      }
      collector {
        podName
        namespace
        nodeSelector {
          name
          value
        }
      }
      removedTenants
      userErrors {
        code
        field
        message
      }
    }
  }
`;
const REMOVE =
  'mutation ($input: RemoveGatewayTenantInput!) { removeGatewayTenant(input: $input) { gateway { id tenants } userErrors { code field message } } }';
const DECOMMISSION =
  'mutation ($input: DecommissionGatewayInput!) { decommissionGateway(input: $input) { decommissionedGatewayId userErrors { code field message } } }';
const DISCOVER =
  'mutation ($input: DiscoverMeshInput!) { discoverMesh(input: $input) { discovery { id } userErrors { code field message } } }';
const UNBOND = 'mutation ($input: UnbondNodeInput!) { unbondNode(input: $input) { removedAddress userErrors { code field message } } }';

/** What the simulated data center holds of `tenant` on the gateway: its collector pods and interfaces. */
function parts(state: CloudState, tenant: string, gatewayId = GATEWAY) {
  return {
    pods: [...state.pods.values()]
      .filter((p) => p.metadata['namespace'] === tenant && p.metadata.labels['iot-platform.io/gateway'] === gatewayId)
      .map((p) => p.metadata.name),
    interfaces: state.virtualMachineInterfaces
      .filter((i) => i.fq_name[1] === tenant && JSON.stringify(i['virtual_machine_interface_bindings']).includes(`"${gatewayId}"`))
      .map((i) => i.fq_name.join(':')),
  };
}

const none = { pods: [], interfaces: [] };

describe('shared gateways: provisioning a guest tenant through the router', () => {
  let platform: Platform;
  let url: string;
  let state: CloudState;
  let admin: string;
  let owner: string;
  let guest: string;
  /** Two nodes of the owner on the gateway, which the guest is given. */
  let addresses: number[];
  const as = (token: string) => ({ token });
  const nodesOf = async (id = GATEWAY) => (await platform.registry.getMany([id]))[0]?.nodes;

  beforeAll(async () => {
    platform = await startTestPlatform({ startCollector: false });
    url = platform.routerUrl;
    state = platform.simulator!.cloud.state;
    [admin, owner, guest] = await Promise.all([adminToken(), tokenFor(OWNER), tokenFor(GUEST)]);
    const nodes = (await nodesOf()) ?? {};
    addresses = platform
      .simulator!.iqrf.bondedNodes(GATEWAY)
      .filter((address) => !nodes[address]?.tenant)
      .slice(0, 2);
    expect(addresses).toHaveLength(2);
  });

  afterAll(async () => {
    await platform?.close();
  });

  it("seeds the scenario's guests: their collector pod and interface on the shared gateway", async () => {
    expect(parts(state, 'pisek-lights')).toEqual({
      pods: [`collector-${GATEWAY}-pisek-lights`],
      interfaces: [`default-domain:pisek-lights:collector-${GATEWAY}`],
    });
    const lights = await tokenFor('pisek-lights');
    const { data, errors } = await graphql(
      url,
      '{ datacenter { contrail { virtualInterfaces { name host tenant virtualNetwork { name } } } kubernetes { pods { name nodeName } } } }',
      undefined,
      as(lights),
    );
    expect(errors).toBeUndefined();
    expect(data!.datacenter.contrail.virtualInterfaces).toContainEqual({
      name: `collector-${GATEWAY}`,
      host: GATEWAY,
      tenant: 'pisek-lights',
      virtualNetwork: { name: 'pisek-lights-iot' },
    });
    expect(data!.datacenter.kubernetes.pods).toContainEqual({ name: `collector-${GATEWAY}-pisek-lights`, nodeName: GATEWAY });
  });

  it('is for operators only, and refuses bad input with the field at fault, changing nothing', async () => {
    const before = await nodesOf();
    const byOwner = await graphql(url, ASSIGN, { input: { gatewayId: GATEWAY, addresses, tenant: GUEST } }, as(owner));
    expect(byOwner.errors?.[0]?.extensions).toMatchObject({ code: 'FORBIDDEN', scope: 'admin' });
    const removeByOwner = await graphql(url, REMOVE, { input: { gatewayId: GATEWAY, tenant: 'pisek-lights' } }, as(owner));
    expect(removeByOwner.errors?.[0]?.extensions).toMatchObject({ code: 'FORBIDDEN' });

    const cases: Array<[Record<string, unknown>, string, string[]]> = [
      [{ gatewayId: 'pisek-gw999', addresses, tenant: GUEST }, 'NOT_FOUND', ['input', 'gatewayId']],
      [{ gatewayId: GATEWAY, addresses: [0], tenant: GUEST }, 'BAD_USER_INPUT', ['input', 'addresses']],
      [{ gatewayId: GATEWAY, addresses: [240], tenant: GUEST }, 'BAD_USER_INPUT', ['input', 'addresses']],
      [{ gatewayId: GATEWAY, addresses: [], tenant: GUEST }, 'BAD_USER_INPUT', ['input', 'addresses']],
      [{ gatewayId: GATEWAY, addresses: [238], tenant: GUEST }, 'BAD_USER_INPUT', ['input', 'addresses']],
      [{ gatewayId: GATEWAY, addresses, tenant: 'Not A Tenant' }, 'BAD_USER_INPUT', ['input', 'tenant']],
      // Not onboarded: no namespace, no virtual network.
      [{ gatewayId: GATEWAY, addresses, tenant: 'nobody-here' }, 'BAD_USER_INPUT', ['input', 'tenant']],
    ];
    for (const [input, code, field] of cases) {
      const { data, errors } = await graphql(url, ASSIGN, { input }, as(admin));
      expect(errors, JSON.stringify(input)).toBeUndefined();
      expect(data!.assignNodes, JSON.stringify(input)).toMatchObject({ gateway: null, collector: null, userErrors: [{ code, field }] });
    }
    expect(await nodesOf()).toEqual(before);
    expect(parts(state, GUEST)).toEqual(none);
    expect(parts(state, 'nobody-here')).toEqual(none);
  });

  it('rolls everything back when the interface or the pod cannot be made', async () => {
    const before = await nodesOf();
    state.injectFault({
      system: 'contrail',
      method: 'POST',
      path: /^\/virtual-machine-interfaces$/,
      status: 503,
      message: 'config API down',
    });
    const noInterface = await graphql(url, ASSIGN, { input: { gatewayId: GATEWAY, addresses, tenant: GUEST } }, as(admin));
    expect(noInterface.data!.assignNodes).toMatchObject({
      gateway: null,
      collector: null,
      userErrors: [
        { code: 'UPSTREAM_ERROR', message: expect.stringContaining(`creating the Contrail interface of tenant "${GUEST}" failed`) },
      ],
    });

    state.injectFault({
      system: 'kubernetes',
      method: 'POST',
      path: new RegExp(`^/api/v1/namespaces/${GUEST}/pods$`),
      status: 500,
      message: 'etcd is down',
    });
    const noPod = await graphql(url, ASSIGN, { input: { gatewayId: GATEWAY, addresses, tenant: GUEST } }, as(admin));
    expect(noPod.data!.assignNodes.userErrors).toEqual([
      {
        code: 'UPSTREAM_ERROR',
        field: null,
        message: expect.stringMatching(
          /collector pod of tenant "austin-summit" failed: .*etcd is down; undone: creating the Contrail interface/,
        ),
      },
    ]);
    // No pod, no interface, the registry as it was; the owner's parts untouched.
    expect(parts(state, GUEST)).toEqual(none);
    expect(await nodesOf()).toEqual(before);
    expect(parts(state, OWNER).pods).toEqual([`collector-${GATEWAY}`]);
  });

  it("gives nodes to a guest: its collector pod on the gateway's node in its namespace, its interface on its network", async () => {
    const { data, errors } = await graphql(
      url,
      ASSIGN,
      { input: { gatewayId: GATEWAY, addresses, tenant: GUEST, idempotencyKey: 'assign-gw002-austin-1' } },
      as(admin),
    );
    expect(errors).toBeUndefined();
    const payload = data!.assignNodes;
    expect(payload.userErrors).toEqual([]);
    expect(payload.removedTenants).toEqual([]);
    expect(payload.gateway.tenants[0]).toBe(OWNER);
    expect([...payload.gateway.tenants].sort()).toEqual([GUEST, OWNER, 'pisek-lights'].sort());
    expect(payload.collector).toMatchObject({
      podName: expect.stringMatching(/^collector-pisek-gw002-austin-summit-[a-z0-9]{5}$/),
      namespace: GUEST,
    });
    expect(payload.collector.nodeSelector).toEqual(
      expect.arrayContaining([
        { name: 'kubernetes.io/arch', value: state.nodes.get(GATEWAY)!.metadata.labels['kubernetes.io/arch'] },
        { name: 'kubernetes.io/hostname', value: GATEWAY },
      ]),
    );
    const nodes = (await nodesOf())!;
    for (const address of addresses) expect(nodes[address]?.tenant).toBe(GUEST);

    // The simulated Kubernetes: the pod, bound to the gateway's node, labelled with the guest.
    const { kubernetesUrl, contrailUrl } = platform.simulator!.cloud;
    const pods = (await (
      await fetch(`${kubernetesUrl}/api/v1/namespaces/${GUEST}/pods?labelSelector=app%3Dcollector,iot-platform.io%2Fgateway%3D${GATEWAY}`)
    ).json()) as { items: Array<{ metadata: { name: string; labels: Record<string, string> }; spec: Record<string, unknown> }> };
    expect(pods.items.map((p) => p.metadata.name)).toEqual([payload.collector.podName]);
    expect(pods.items[0]!.metadata.labels).toMatchObject({ 'iot-platform.io/tenant': GUEST, 'iot-platform.io/gateway': GATEWAY });
    expect(pods.items[0]!.spec).toMatchObject({ nodeName: GATEWAY });

    // The simulated Contrail: the interface in the guest's project, on its network, bound to the gateway's vRouter.
    const listed = (await (await fetch(`${contrailUrl}/virtual-machine-interfaces`)).json()) as {
      'virtual-machine-interfaces': Array<{ uuid: string; fq_name: string[] }>;
    };
    const item = listed['virtual-machine-interfaces'].find((i) => i.fq_name.join(':') === `default-domain:${GUEST}:collector-${GATEWAY}`)!;
    const vmi = ((await (await fetch(`${contrailUrl}/virtual-machine-interface/${item.uuid}`)).json()) as Record<string, any>)[
      'virtual-machine-interface'
    ];
    const network = state.virtualNetworks.find((n) => n.fq_name.join(':') === `default-domain:${GUEST}:${GUEST}-iot`)!;
    expect(vmi.virtual_network_refs).toEqual([expect.objectContaining({ uuid: network.uuid, to: network.fq_name })]);
    expect(vmi.virtual_machine_interface_bindings).toEqual({ key_value_pair: [{ key: 'host_id', value: GATEWAY }] });
    expect(vmi.virtual_machine_interface_mac_addresses.mac_address[0]).toMatch(/^02(:[0-9a-f]{2}){5}$/);

    // A retry with the key: the same result, nothing made twice.
    const retry = await graphql(
      url,
      ASSIGN,
      { input: { gatewayId: GATEWAY, addresses, tenant: GUEST, idempotencyKey: 'assign-gw002-austin-1' } },
      as(admin),
    );
    expect(retry.data!.assignNodes.collector).toEqual(payload.collector);
    expect(parts(state, GUEST).pods).toHaveLength(1);
  });

  it('shows each tenant its own parts of the shared gateway, and operators all of them', async () => {
    const query = `{ gateway(id: "${GATEWAY}") { tenants pods { name namespace } vrouter { name interfaces { name tenant } virtualNetworks { name } } } }`;
    const byAdmin = (await graphql(url, query, undefined, as(admin))).data!.gateway;
    expect(byAdmin.vrouter.interfaces).toEqual(
      expect.arrayContaining([
        { name: `collector-${GATEWAY}`, tenant: GUEST },
        { name: `collector-${GATEWAY}`, tenant: 'pisek-lights' },
      ]),
    );
    expect(byAdmin.pods.map((p: { namespace: string }) => p.namespace).sort()).toEqual([GUEST, OWNER, 'pisek-lights'].sort());

    // The owner: its own collector and network; the guests' pods and interfaces are not its to see.
    const byOwner = (await graphql(url, query, undefined, as(owner))).data!.gateway;
    expect(byOwner.tenants).toEqual([OWNER]);
    expect(byOwner.pods).toEqual([{ name: `collector-${GATEWAY}`, namespace: OWNER }]);
    expect(byOwner.vrouter).toEqual({ name: GATEWAY, interfaces: [], virtualNetworks: [{ name: `${OWNER}-iot` }] });

    // The guest, through the router: the gateway, with its own collector and interface only.
    const byGuest = await graphql(url, query, undefined, as(guest));
    expect(byGuest.errors).toBeUndefined();
    expect(byGuest.data!.gateway.tenants).toEqual([OWNER, GUEST]);
    expect(byGuest.data!.gateway.pods).toEqual([
      { name: expect.stringMatching(/^collector-pisek-gw002-austin-summit-/), namespace: GUEST },
    ]);
    expect(byGuest.data!.gateway.vrouter).toEqual({
      name: GATEWAY,
      interfaces: [{ name: `collector-${GATEWAY}`, tenant: GUEST }],
      virtualNetworks: [{ name: `${GUEST}-iot` }],
    });

    // The infrastructure subgraph holds the same wall for an entity call signed as the router signs it.
    const caller: Caller = { kind: 'user', subject: 'austin-dev', tenant: GUEST, scopes: tenantScopes };
    const entities = await subgraphRequest(
      platform.subgraphs.infrastructure.url,
      {
        query: `query ($r: [_Any!]!) { _entities(representations: $r) { ... on Gateway { node { name labels { name value } } pods { namespace } vrouter { interfaces { tenant } } } } }`,
        variables: { r: [{ __typename: 'Gateway', id: GATEWAY }] },
      },
      caller,
      platform.subgraphSecret,
    );
    const [seen] = entities.data._entities;
    expect(seen.node.name).toBe(GATEWAY);
    // The node's labels name no tenant to a guest.
    expect(seen.node.labels.map((l: { name: string }) => l.name)).not.toContain('iot-platform.io/tenant');
    expect(seen.pods).toEqual([{ namespace: GUEST }]);
    expect(seen.vrouter.interfaces).toEqual([{ tenant: GUEST }]);

    // And in its data center view.
    const dc = await graphql(
      url,
      '{ datacenter { kubernetes { pods { namespace nodeName } nodes { name } } contrail { vRouters { name } virtualInterfaces { host virtualNetwork { name } } } } }',
      undefined,
      as(guest),
    );
    expect(dc.errors).toBeUndefined();
    expect(dc.data!.datacenter.kubernetes.pods).toContainEqual({ namespace: GUEST, nodeName: GATEWAY });
    expect(dc.data!.datacenter.kubernetes.nodes.map((n: { name: string }) => n.name)).toContain(GATEWAY);
    expect(dc.data!.datacenter.contrail.vRouters.map((r: { name: string }) => r.name)).toContain(GATEWAY);
    expect(dc.data!.datacenter.contrail.virtualInterfaces).toEqual([{ host: GATEWAY, virtualNetwork: { name: `${GUEST}-iot` } }]);
  });

  it('leaves gateway-level operations to the owner and operators: a guest is FORBIDDEN', async () => {
    for (const [mutation, field, input] of [
      [DECOMMISSION, 'decommissionGateway', { gatewayId: GATEWAY }],
      [DISCOVER, 'discoverMesh', { gatewayId: GATEWAY }],
      [UNBOND, 'unbondNode', { gatewayId: GATEWAY, address: addresses[0] }],
    ] as const) {
      const { data, errors } = await graphql(url, mutation, { input }, as(guest));
      expect(errors?.[0]?.extensions?.code, field).toBe('FORBIDDEN');
      expect(errors?.[0]?.message, field).toMatch(/Only the owner of gateway "pisek-gw002" or an operator may/);
      expect(data?.[field] ?? null, field).toBeNull();
    }
    expect(state.nodes.has(GATEWAY)).toBe(true);
    expect(parts(state, GUEST).pods).toHaveLength(1);
  });

  it("removes a guest: only its parts go, back if a step fails; the owner's pod and vRouter stay", async () => {
    const before = await nodesOf();
    const [guestPod] = parts(state, GUEST).pods;
    state.injectFault({
      system: 'contrail',
      method: 'DELETE',
      path: /^\/virtual-machine-interface\//,
      status: 500,
      message: 'zookeeper lost',
    });
    const failed = await graphql(url, REMOVE, { input: { gatewayId: GATEWAY, tenant: GUEST } }, as(admin));
    expect(failed.data!.removeGatewayTenant).toMatchObject({ gateway: null, userErrors: [{ code: 'UPSTREAM_ERROR' }] });
    // Its pod was made again (under its own name), its interface never left, the registry as it was.
    expect(parts(state, GUEST)).toEqual({ pods: [guestPod], interfaces: [`default-domain:${GUEST}:collector-${GATEWAY}`] });
    expect(await nodesOf()).toEqual(before);

    const owned = await graphql(url, REMOVE, { input: { gatewayId: GATEWAY, tenant: OWNER } }, as(admin));
    expect(owned.data!.removeGatewayTenant.userErrors).toMatchObject([{ code: 'BAD_USER_INPUT', field: ['input', 'tenant'] }]);

    const { data } = await graphql(url, REMOVE, { input: { gatewayId: GATEWAY, tenant: GUEST } }, as(admin));
    expect(data!.removeGatewayTenant).toEqual({ gateway: { id: GATEWAY, tenants: [OWNER, 'pisek-lights'] }, userErrors: [] });
    expect(parts(state, GUEST)).toEqual(none);
    expect(parts(state, OWNER).pods).toEqual([`collector-${GATEWAY}`]);
    expect(parts(state, 'pisek-lights').pods).toEqual([`collector-${GATEWAY}-pisek-lights`]);
    expect(state.findVirtualRouterByName(GATEWAY)).toBeDefined();
    const nodes = (await nodesOf())!;
    for (const address of addresses) expect(nodes[address]?.tenant).toBeUndefined();

    const again = await graphql(url, REMOVE, { input: { gatewayId: GATEWAY, tenant: GUEST } }, as(admin));
    expect(again.data!.removeGatewayTenant.userErrors).toMatchObject([{ code: 'NOT_FOUND', field: ['input', 'tenant'] }]);
  });

  it("takes nodes back to the owner: a guest left with none loses its parts; unbonding a guest's last node does too", async () => {
    const assign = (nodes: number[], tenant: string) =>
      graphql(url, ASSIGN, { input: { gatewayId: GATEWAY, addresses: nodes, tenant } }, as(admin));
    expect((await assign(addresses, GUEST)).data!.assignNodes.userErrors).toEqual([]);
    const back = (await assign(addresses, OWNER)).data!.assignNodes;
    expect(back).toMatchObject({ collector: null, removedTenants: [GUEST], userErrors: [] });
    expect(parts(state, GUEST)).toEqual(none);

    expect((await assign([addresses[0]!], GUEST)).data!.assignNodes.userErrors).toEqual([]);
    expect(parts(state, GUEST).pods).toHaveLength(1);
    const unbond = await graphql(url, UNBOND, { input: { gatewayId: GATEWAY, address: addresses[0] } }, as(owner));
    expect(unbond.data!.unbondNode).toEqual({ removedAddress: addresses[0], userErrors: [] });
    expect(parts(state, GUEST)).toEqual(none);
    expect((await nodesOf())![addresses[0]!]).toBeUndefined();
  });

  it("decommissions a shared gateway with every tenant's parts", async () => {
    expect(
      (await graphql(url, ASSIGN, { input: { gatewayId: GATEWAY, addresses: [addresses[1]], tenant: GUEST } }, as(admin))).data!.assignNodes
        .userErrors,
    ).toEqual([]);
    expect(parts(state, GUEST).pods).toHaveLength(1);
    const { data } = await graphql(url, DECOMMISSION, { input: { gatewayId: GATEWAY } }, as(owner));
    expect(data!.decommissionGateway).toEqual({ decommissionedGatewayId: GATEWAY, userErrors: [] });
    for (const tenant of [OWNER, GUEST, 'pisek-lights']) expect(parts(state, tenant), tenant).toEqual(none);
    expect(state.virtualMachineInterfaces.filter((i) => JSON.stringify(i).includes(`"${GATEWAY}"`))).toEqual([]);
    expect(state.findVirtualRouterByName(GATEWAY)).toBeUndefined();
    expect(state.nodes.has(GATEWAY)).toBe(false);
    expect(await nodesOf()).toBeUndefined();
  });
});
