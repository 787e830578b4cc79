import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Scope, type Caller } from '#auth';
import { subgraphRequest } from '../support/auth.ts';
import { once } from 'node:events';
import {
  ContrailClient,
  GatewayProvisioner,
  KubernetesClient,
  OpenStackClient,
  TenantOnboarder,
  UpstreamError,
  tenantVirtualNetwork,
} from '#cloud';
import { silentLogger } from '#log';
import { startCloudSimulator, defaultCloudCredentials, type CloudSimulator } from '../../simulator/src/cloud/index.ts';
import { buildScenario } from '../../simulator/src/scenario.ts';
import { wireInfrastructure } from '../../subgraphs/infrastructure/src/index.ts';

const scenario = buildScenario('demo');
const austin = scenario.gateways.find((g) => g.id === 'austin-gw01')!;
const READY_DELAY_MS = 100;

let sim: CloudSimulator;
let openstack: OpenStackClient;
let contrail: ContrailClient;
let kubernetes: KubernetesClient;
const disposers: (() => Promise<void>)[] = [];

beforeAll(async () => {
  sim = await startCloudSimulator({ scenario, logger: silentLogger, nodeReadyDelayMs: READY_DELAY_MS });
  disposers.push(() => sim.close());
  const c = defaultCloudCredentials;
  openstack = new OpenStackClient({
    authUrl: sim.openstackAuthUrl,
    username: c.username,
    password: c.password,
    projectName: c.projectName,
  });
  contrail = new ContrailClient({ url: sim.contrailUrl });
  kubernetes = new KubernetesClient({ server: sim.kubernetesUrl });
});

afterAll(async () => {
  for (const dispose of disposers.reverse()) await dispose();
});

describe('OpenStack client against the simulator', () => {
  it('logs in with Keystone and reads projects, servers, hypervisors and networks through the catalog', async () => {
    const projects = await openstack.listProjects();
    expect(projects.map((p) => p.name).sort()).toEqual(['admin', ...scenario.tenants].sort());

    const servers = await openstack.listServers();
    const master = servers.find((s) => s.name === 'k8s-master');
    expect(master).toMatchObject({ status: 'ACTIVE', flavor: 'm1.large', availabilityZone: 'nova' });
    expect(master?.hypervisorHostname).toMatch(/^compute-[123]$/);
    expect(servers.map((s) => s.name)).toEqual(expect.arrayContaining(['contrail-controller', 'graphite']));

    const hypervisors = await openstack.listHypervisors();
    expect(hypervisors.map((h) => h.hostname)).toEqual(['compute-1', 'compute-2', 'compute-3']);
    // Microversion 2.53: ids are UUIDs.
    expect(hypervisors[0]!.id).toMatch(/^[0-9a-f]{8}-/);
    expect(hypervisors.reduce((sum, h) => sum + h.runningVms, 0)).toBe(servers.length);

    const networks = await openstack.listNetworks();
    expect(networks.find((n) => n.name === 'public')).toMatchObject({ external: true, shared: true });
    for (const tenant of scenario.tenants) expect(networks.some((n) => n.name === `${tenant}-net`)).toBe(true);
  });

  it('logs in again once when a service refuses the token', async () => {
    await openstack.listNetworks();
    sim.state.revokeTokens();
    await expect(openstack.listNetworks()).resolves.not.toHaveLength(0);
  });

  it('renews a token that is about to expire', async () => {
    const short = await startCloudSimulator({ scenario, logger: silentLogger, tokenTtlMs: 1_000 });
    try {
      const client = new OpenStackClient({
        authUrl: short.openstackAuthUrl,
        username: 'admin',
        password: defaultCloudCredentials.password,
        projectName: 'admin',
        renewBeforeMs: 900,
      });
      const first = await client.token();
      await new Promise((resolve) => setTimeout(resolve, 150));
      expect(await client.token()).not.toBe(first);
    } finally {
      await short.close();
    }
  });

  it('says clearly when the password is wrong', async () => {
    const client = new OpenStackClient({ authUrl: sim.openstackAuthUrl, username: 'admin', password: 'wrong', projectName: 'admin' });
    const error = await client.listServers().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(UpstreamError);
    expect((error as UpstreamError).status).toBe(401);
    expect((error as Error).message).toMatch(
      /^Keystone: POST \/identity\/v3\/auth\/tokens answered 401: user "admin" could not log in to project "admin"/,
    );
  });

  it('requires a token on every service', async () => {
    const response = await fetch(`${sim.openstackAuthUrl.replace('/identity/v3', '/compute/v2.1')}/servers/detail`);
    expect(response.status).toBe(401);
    expect(await response.json()).toMatchObject({ error: { code: 401, title: 'Unauthorized' } });
  });

  it('answers a malformed body with 400, not a crash', async () => {
    const response = await fetch(`${sim.openstackAuthUrl}/auth/tokens`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"auth": ',
    });
    expect(response.status).toBe(400);
    expect(await response.json()).toMatchObject({ error: { code: 400 } });
  });
});

describe('Contrail client against the simulator', () => {
  it('lists virtual networks (one per tenant, own route target), vRouters and BGP peers', async () => {
    const networks = await contrail.listVirtualNetworks();
    const tenantNetworks = networks.filter((n) => scenario.tenants.includes(n.project));
    expect(tenantNetworks.map((n) => n.fqName)).toEqual(scenario.tenants.map(tenantVirtualNetwork));
    expect(new Set(tenantNetworks.map((n) => n.routeTargets[0])).size).toBe(scenario.tenants.length);
    expect(tenantNetworks[0]!.routeTargets[0]).toMatch(/^target:64512:\d+$/);
    expect(tenantNetworks[0]!.subnets[0]).toMatch(/^10\.\d+\.0\.0\/16$/);

    const vrouters = await contrail.listVirtualRouters();
    expect(vrouters.map((r) => r.name)).toEqual(expect.arrayContaining(['compute-1', ...scenario.gateways.map((g) => g.id)]));

    const bgp = await contrail.listBgpRouters();
    expect(bgp.find((b) => b.name === 'contrail-controller')).toMatchObject({
      routerType: 'control-node',
      autonomousSystem: 64512,
      peers: ['border-router-1', 'border-router-2'],
    });
  });

  it('creates, finds and deletes a vRouter attached to a tenant network', async () => {
    const fqName = tenantVirtualNetwork('pisek-city');
    const created = await contrail.createVirtualRouter({ name: 'test-vrouter', ip: '172.16.9.9', virtualNetworkFqName: fqName });
    const network = (await contrail.listVirtualNetworks()).find((n) => n.fqName.join(':') === fqName.join(':'))!;
    const found = await contrail.findVirtualRouter('test-vrouter');
    expect(found).toMatchObject({ uuid: created.uuid, ipAddress: '172.16.9.9' });
    expect(found!.networkIpamRefs.map((r) => r.uuid)).toEqual(network.networkIpamRefs.map((r) => r.uuid));

    await expect(contrail.createVirtualRouter({ name: 'test-vrouter' })).rejects.toThrow(/^Contrail: POST \/virtual-routers answered 409/);
    await contrail.deleteVirtualRouter(created.uuid);
    expect(await contrail.findVirtualRouter('test-vrouter')).toBeUndefined();
    await expect(contrail.deleteVirtualRouter(created.uuid)).rejects.toThrow(
      `Contrail: DELETE /virtual-router/${created.uuid} answered 404`,
    );
  });

  it('answers a malformed body with 400', async () => {
    const response = await fetch(`${sim.contrailUrl}/virtual-routers`, { method: 'POST', body: 'not json' });
    expect(response.status).toBe(400);
  });
});

describe('Kubernetes client against the simulator', () => {
  it('lists nodes by label selector', async () => {
    const nodes = await kubernetes.listNodes('iot-platform.io/gateway in (austin-gw01,pisek-gw002)');
    expect(nodes.map((n) => n.name).sort()).toEqual(['austin-gw01', 'pisek-gw002']);
    const node = nodes.find((n) => n.name === 'austin-gw01')!;
    expect(node).toMatchObject({ ready: true, arch: austin.arch, kubeletVersion: expect.stringMatching(/^v1\./) });
    expect(node.labels).toMatchObject({ 'kubernetes.io/os': 'linux', 'iot-platform.io/tenant': austin.tenant });

    const all = await kubernetes.listNodes();
    expect(all.map((n) => n.name)).toContain('k8s-master');
    expect(all).toHaveLength(scenario.gateways.length + 1);
    expect(await kubernetes.readNode('no-such-node')).toBeUndefined();
  });

  it('lists pods by node and namespaces', async () => {
    const pods = await kubernetes.listPods({ nodeName: 'austin-gw01' });
    expect(pods).toEqual([
      expect.objectContaining({ name: 'collector-austin-gw01', namespace: austin.tenant, phase: 'Running', ready: true }),
    ]);
    const namespaces = await kubernetes.listNamespaces();
    expect(namespaces.map((n) => n.name)).toEqual(expect.arrayContaining(['default', 'kube-system', ...scenario.tenants]));
  });

  it('creates a node that becomes Ready after the kubelet delay and announces it', async () => {
    const added = once(sim.state, 'nodeAdded');
    const created = await kubernetes.createNode({
      name: 'test-node',
      labels: { 'kubernetes.io/arch': 'arm', 'iot-platform.io/gateway': 'test-node' },
    });
    expect(created.ready).toBe(false);
    expect(await added).toEqual(['test-node', expect.objectContaining({ 'kubernetes.io/arch': 'arm' })]);
    await once(sim.state, 'nodeReady');
    expect(await kubernetes.readNode('test-node')).toMatchObject({ ready: true, arch: 'arm' });
    await expect(kubernetes.createNode({ name: 'test-node', labels: {} })).rejects.toThrow(
      /^Kubernetes: POST \/api\/v1\/nodes answered 409: nodes "test-node" already exists/,
    );

    const deleted = once(sim.state, 'nodeDeleted');
    expect(await kubernetes.deleteNode('test-node')).toBe(true);
    expect(await deleted).toEqual(['test-node']);
    expect(await kubernetes.deleteNode('test-node')).toBe(false);
  });

  it('merge-patches a node and streams watch events', async () => {
    const controller = new AbortController();
    const watch = await fetch(`${sim.kubernetesUrl}/api/v1/nodes?watch=1&labelSelector=iot-platform.io/gateway=pisek-gw003`, {
      signal: controller.signal,
    });
    const patched = await fetch(`${sim.kubernetesUrl}/api/v1/nodes/pisek-gw003`, {
      method: 'PATCH',
      headers: { 'content-type': 'application/strategic-merge-patch+json' },
      body: JSON.stringify({ metadata: { labels: { maintenance: 'true' } } }),
    });
    expect(patched.status).toBe(200);
    const reader = watch.body!.getReader();
    const { value } = await reader.read();
    const event = JSON.parse(new TextDecoder().decode(value).split('\n')[0]!) as {
      type: string;
      object: { metadata: { labels: Record<string, string> } };
    };
    expect(event.type).toBe('MODIFIED');
    expect(event.object.metadata.labels).toMatchObject({ maintenance: 'true', 'iot-platform.io/gateway': 'pisek-gw003' });
    controller.abort();

    const bad = await fetch(`${sim.kubernetesUrl}/api/v1/nodes`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{',
    });
    expect(bad.status).toBe(400);
    expect(await bad.json()).toMatchObject({ kind: 'Status', code: 400 });
  });
});

describe("the simulated APIs' refusals, each in its API's own format", () => {
  it('Contrail: 404 for a missing reference or object (before 405), 409 for what is still referred to, as plain text', async () => {
    const post = (path: string, body: unknown) =>
      fetch(`${sim.contrailUrl}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    const missingIpam = await post('/virtual-routers', {
      'virtual-router': { fq_name: ['default-global-system-config', 'refusal-test'], network_ipam_refs: [{ uuid: 'no-such-ipam' }] },
    });
    expect([missingIpam.status, await missingIpam.text()]).toEqual([404, 'Reference not found: network-ipam "no-such-ipam"']);

    const [ipam] = (await (await fetch(`${sim.contrailUrl}/network-ipams`)).json())['network-ipams'] as Array<{ uuid: string }>;
    const referred = await fetch(`${sim.contrailUrl}/network-ipam/${ipam!.uuid}`, { method: 'DELETE' });
    expect(referred.status).toBe(409);
    expect(await referred.text()).toMatch(/^Conflict: Delete when resource still referred: /);

    const [bgp] = (await (await fetch(`${sim.contrailUrl}/bgp-routers`)).json())['bgp-routers'] as Array<{ uuid: string }>;
    const notAllowed = await fetch(`${sim.contrailUrl}/bgp-router/${bgp!.uuid}`, { method: 'DELETE' });
    expect([notAllowed.status, await notAllowed.text()]).toEqual([405, `Method DELETE not allowed on /bgp-router/${bgp!.uuid}`]);
    const missing = await fetch(`${sim.contrailUrl}/bgp-router/no-such-uuid`, { method: 'DELETE' });
    expect([missing.status, await missing.text()]).toEqual([404, 'ID no-such-uuid not found']);
  });

  it('Kubernetes: a Status with the reason of each refusal (404, 405, 409, 422) and what it is about', async () => {
    const status = async (response: Response) => [response.status, await response.json()];
    expect(await status(await fetch(`${sim.kubernetesUrl}/apis/apps/v1/deployments`))).toEqual([
      404,
      expect.objectContaining({ kind: 'Status', reason: 'NotFound', code: 404 }),
    ]);
    expect(await status(await fetch(`${sim.kubernetesUrl}/api/v1/services`))).toEqual([
      405,
      expect.objectContaining({ reason: 'MethodNotAllowed', code: 405 }),
    ]);
    const create = (body: unknown) =>
      fetch(`${sim.kubernetesUrl}/api/v1/namespaces`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
    expect(await status(await create({ metadata: { name: 'Not_A_Name' } }))).toEqual([
      422,
      expect.objectContaining({ reason: 'Invalid', details: { kind: 'namespaces' }, code: 422 }),
    ]);
    expect(await status(await create({ metadata: { name: 'default' } }))).toEqual([
      409,
      expect.objectContaining({
        reason: 'AlreadyExists',
        message: 'namespaces "default" already exists',
        details: { name: 'default', kind: 'namespaces' },
      }),
    ]);
    expect(await status(await fetch(`${sim.kubernetesUrl}/api/v1/namespaces/no-such-namespace`, { method: 'DELETE' }))).toEqual([
      404,
      expect.objectContaining({ reason: 'NotFound', details: { name: 'no-such-namespace', kind: 'namespaces' } }),
    ]);
  });

  it("OpenStack: the token is checked before a service's own 404, which Nova answers with its microversion", async () => {
    const nova = sim.openstackAuthUrl.replace('/identity/v3', '/compute/v2.1');
    const anonymous = await fetch(`${sim.openstackAuthUrl}/users`);
    expect([anonymous.status, await anonymous.json()]).toEqual([
      401,
      { error: expect.objectContaining({ code: 401, title: 'Unauthorized' }) },
    ]);
    const tokens = await fetch(`${sim.openstackAuthUrl}/auth/tokens`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        auth: {
          identity: { methods: ['password'], password: { user: { name: 'admin', password: 'iot-platform', domain: { id: 'default' } } } },
          scope: { project: { name: 'admin', domain: { id: 'default' } } },
        },
      }),
    });
    const token = tokens.headers.get('x-subject-token')!;
    const flavors = await fetch(`${nova}/flavors`, { headers: { 'x-auth-token': token, 'x-openstack-nova-api-version': '2.53' } });
    expect(flavors.status).toBe(404);
    expect(flavors.headers.get('openstack-api-version')).toBe('compute 2.53');
    expect(await flavors.json()).toEqual({ itemNotFound: { code: 404, message: 'The resource could not be found.' } });
    const duplicate = await fetch(`${sim.openstackAuthUrl}/projects`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-auth-token': token },
      body: JSON.stringify({ project: { name: 'admin' } }),
    });
    expect([duplicate.status, await duplicate.json()]).toEqual([409, { error: expect.objectContaining({ code: 409, title: 'Conflict' }) }]);
  });
});

describe('GatewayProvisioner', () => {
  const provisioner = () => new GatewayProvisioner({ kubernetes, contrail, logger: silentLogger });

  it('creates the node, the vRouter and the collector pod, and removes them again', async () => {
    const gateway = { id: 'pisek-gw901', tenant: 'pisek-city', arch: 'arm', ip: '172.16.9.1' } as const;
    const collector = await provisioner().provision(gateway);
    const node = await kubernetes.readNode('pisek-gw901');
    expect(node?.labels).toMatchObject({
      'iot-platform.io/gateway': 'pisek-gw901',
      'iot-platform.io/tenant': 'pisek-city',
      'kubernetes.io/arch': 'arm',
      'kubernetes.io/hostname': 'pisek-gw901',
    });
    const vrouter = await contrail.findVirtualRouter('pisek-gw901');
    const network = (await contrail.listVirtualNetworks()).find((n) => n.name === 'pisek-city-iot')!;
    expect(vrouter?.networkIpamRefs.map((r) => r.uuid)).toEqual(network.networkIpamRefs.map((r) => r.uuid));
    expect(collector).toMatchObject({
      namespace: 'pisek-city',
      nodeSelector: { 'kubernetes.io/arch': 'arm', 'kubernetes.io/hostname': 'pisek-gw901' },
    });
    expect(sim.state.pods.get(`pisek-city/${collector.name}`)?.spec).toMatchObject({
      nodeSelector: { 'kubernetes.io/arch': 'arm', 'kubernetes.io/hostname': 'pisek-gw901' },
    });

    await provisioner().deprovision(gateway);
    expect(await kubernetes.readNode('pisek-gw901')).toBeUndefined();
    expect(await contrail.findVirtualRouter('pisek-gw901')).toBeUndefined();
    expect(await kubernetes.listPods({ labelSelector: 'iot-platform.io/gateway=pisek-gw901' })).toEqual([]);
  });

  it('leaves no node behind when the vRouter already exists', async () => {
    const existing = await contrail.createVirtualRouter({ name: 'pisek-gw902' });
    const error = await provisioner()
      .provision({ id: 'pisek-gw902', tenant: 'pisek-city', arch: 'arm64' })
      .catch((e: unknown) => e);
    expect((error as Error).message).toMatch(
      /^Provisioning gateway "pisek-gw902": creating its Contrail vRouter failed: Contrail: POST \/virtual-routers answered 409.*; undone: creating its Kubernetes node$/,
    );
    expect(await kubernetes.readNode('pisek-gw902')).toBeUndefined();
    await contrail.deleteVirtualRouter(existing.uuid);
  });

  it('leaves no node behind when Contrail is unreachable or the tenant has no network', async () => {
    const unreachable = new GatewayProvisioner({
      kubernetes,
      contrail: new ContrailClient({ url: 'http://127.0.0.1:1', timeoutMs: 2_000 }),
      logger: silentLogger,
    });
    await expect(unreachable.provision({ id: 'pisek-gw903', tenant: 'pisek-city', arch: 'arm' })).rejects.toThrow(
      /checking the tenant's virtual network and namespace failed: Contrail: GET \/virtual-networks failed/,
    );
    expect(await kubernetes.readNode('pisek-gw903')).toBeUndefined();

    await expect(provisioner().provision({ id: 'pisek-gw904', tenant: 'nobody', arch: 'arm' })).rejects.toThrow(
      /tenant "nobody" has no Contrail virtual network default-domain:nobody:nobody-iot/,
    );
    expect(await kubernetes.readNode('pisek-gw904')).toBeUndefined();
  });

  it('refuses a gateway whose node already exists, without touching Contrail', async () => {
    await expect(provisioner().provision({ id: 'austin-gw01', tenant: 'austin-summit', arch: 'amd64' })).rejects.toThrow(
      /creating its Kubernetes node failed: .*already exists/,
    );
    expect(await kubernetes.readNode('austin-gw01')).toBeDefined();
    expect(await contrail.findVirtualRouter('austin-gw01')).toBeDefined();
  });
});

describe('infrastructure subgraph', () => {
  let url: string;
  const secret = 'infrastructure-test-secret';
  const operator: Caller = { kind: 'user', subject: 'operator', tenant: null, scopes: [Scope.ADMIN] };

  beforeAll(async () => {
    const onboarder = new TenantOnboarder({ openstack, contrail, kubernetes, logger: silentLogger });
    const subgraph = await wireInfrastructure({
      port: 0,
      logger: silentLogger,
      sources: { openstack, contrail, kubernetes, onboarder },
      exposeInternalErrors: true,
      trust: { secret },
    });
    disposers.push(() => subgraph.close());
    url = subgraph.url;
  });

  async function query<T>(
    text: string,
    variables: Record<string, unknown> = {},
  ): Promise<{ data?: T; errors?: { message: string; extensions?: { code?: string } }[] }> {
    return subgraphRequest(url, { query: text, variables }, operator, secret);
  }

  it('serves the data center views', async () => {
    const result = await query<{
      datacenter: {
        openstack: {
          projects: { name: string }[];
          servers: { name: string; hypervisorHostname: string }[];
          hypervisors: { hostname: string; servers: { name: string }[] }[];
          networks: { name: string }[];
        };
        contrail: {
          virtualNetworks: { fqName: string[]; tenant: string; routeTargets: string[] }[];
          vRouters: { name: string; virtualNetworks: { name: string }[] }[];
          bgpPeers: { name: string; peers: string[] }[];
        };
        kubernetes: {
          nodes: { name: string; arch: string | null; gateway: { id: string } | null }[];
          pods: { name: string; phase: string }[];
          namespaces: { name: string; tenant: string | null }[];
        };
      };
    }>(`{
      datacenter {
        openstack { projects { name } servers { name hypervisorHostname } hypervisors { hostname servers { name } } networks { name } }
        contrail { virtualNetworks { fqName tenant routeTargets } vRouters { name virtualNetworks { name } } bgpPeers { name peers } }
        kubernetes { nodes { name arch gateway { id } } pods { name phase } namespaces { name tenant } }
      }
    }`);
    expect(result.errors).toBeUndefined();
    const dc = result.data!.datacenter;
    expect(dc.openstack.projects.map((p) => p.name)).toEqual(expect.arrayContaining(scenario.tenants));
    expect(dc.openstack.hypervisors.flatMap((h) => h.servers.map((s) => s.name)).sort()).toEqual(
      dc.openstack.servers.map((s) => s.name).sort(),
    );
    expect(dc.contrail.virtualNetworks.find((n) => n.tenant === austin.tenant)?.fqName).toEqual(tenantVirtualNetwork(austin.tenant));
    expect(dc.contrail.vRouters.find((r) => r.name === austin.id)?.virtualNetworks).toEqual([{ name: `${austin.tenant}-iot` }]);
    expect(dc.contrail.bgpPeers).toHaveLength(3);
    expect(dc.kubernetes.nodes.find((n) => n.name === 'k8s-master')).toEqual({ name: 'k8s-master', arch: 'AMD64', gateway: null });
    expect(dc.kubernetes.nodes.find((n) => n.name === 'pisek-gw001')).toEqual({
      name: 'pisek-gw001',
      arch: 'ARM',
      gateway: { id: 'pisek-gw001' },
    });
    expect(dc.kubernetes.pods).toContainEqual({ name: 'collector-austin-gw01', phase: 'RUNNING' });
    expect(dc.kubernetes.namespaces).toContainEqual({ name: austin.tenant, tenant: austin.tenant });
  });

  it('resolves Gateway entities: node, pods and vRouter; null node for an unknown gateway', async () => {
    const result = await query<{
      _entities: ({
        node: { name: string; ready: boolean; arch: string } | null;
        pods: { name: string; phase: string }[];
        vrouter: { name: string; ipAddress: string | null } | null;
      } | null)[];
    }>(
      `query ($representations: [_Any!]!) {
        _entities(representations: $representations) {
          ... on Gateway { node { name ready arch } pods { name phase } vrouter { name ipAddress } }
        }
      }`,
      {
        representations: [
          { __typename: 'Gateway', id: 'austin-gw01' },
          { __typename: 'Gateway', id: 'pisek-gw002' },
          { __typename: 'Gateway', id: 'no-such-gateway' },
          { __typename: 'Gateway', id: 'bad id (x)' },
        ],
      },
    );
    expect(result.errors).toBeUndefined();
    const [austinGw, pisek, unknown, invalid] = result.data!._entities;
    expect(austinGw).toEqual({
      node: { name: 'austin-gw01', ready: true, arch: 'AMD64' },
      pods: [{ name: 'collector-austin-gw01', phase: 'RUNNING' }],
      vrouter: { name: 'austin-gw01', ipAddress: expect.stringMatching(/^172\.16\./) },
    });
    expect(pisek?.node).toEqual({ name: 'pisek-gw002', ready: true, arch: 'ARM64' });
    expect(unknown).toEqual({ node: null, pods: [], vrouter: null });
    expect(invalid).toEqual({ node: null, pods: [], vrouter: null });
  });

  it('reports an unreachable system as UPSTREAM_ERROR naming it', async () => {
    const broken = await wireInfrastructure({
      port: 0,
      logger: silentLogger,
      sources: {
        openstack,
        contrail,
        kubernetes: new KubernetesClient({ server: 'http://127.0.0.1:1' }),
        onboarder: { onboard: () => Promise.reject(new Error('not used')) },
      },
      trust: { secret },
    });
    try {
      const body = await subgraphRequest(broken.url, { query: '{ datacenter { kubernetes { nodes { name } } } }' }, operator, secret);
      expect(body.errors?.[0]?.extensions?.code).toBe('UPSTREAM_ERROR');
      expect(body.errors?.[0]?.message).toMatch(/^Kubernetes API: GET \/api\/v1\/nodes failed/);
    } finally {
      await broken.close();
    }
  });
});
