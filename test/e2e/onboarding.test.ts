import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Scope } from '#auth';
import type { Platform } from '../../platform/platform.ts';
import type { CloudState } from '../../simulator/src/cloud/index.ts';
import { adminToken, tenantScopes, tokenFor } from '../support/auth.ts';
import { graphql } from '../support/graphql.ts';
import { startTestPlatform } from '../support/platform.ts';

// The demo city's tenants are "pisek-city" (route target target:64512:1), "austin-summit" (:2) and
// the guests of its shared gateways, "pisek-parking" and "pisek-lights" (two more): a new one is the fifth.
const ONBOARD = /* GraphQL */ `
  mutation ($input: OnboardTenantInput!) {
    onboardTenant(input: $input) {
      tenant {
        id
        namespace {
          name
          tenant
          phase
        }
        virtualNetwork {
          fqName
          tenant
          routeTargets
          subnets
        }
        project {
          name
          description
          enabled
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
const REGISTER =
  'mutation ($input: RegisterGatewayInput!) { registerGateway(input: $input) { gateway { id tenant status } collector { namespace } userErrors { code field message } } }';

function registration(id: string, tenant: string) {
  return { id, name: `Gateway ${id}`, tenant, arch: 'ARM64', location: { latitude: 49.3, longitude: 14.1 } };
}

/** What the simulated data center holds of a tenant id, in each of its systems. */
function footprint(state: CloudState, id: string) {
  return {
    keystoneProjects: state.projects.filter((p) => p.name === id).length,
    contrailProjects: state.contrailProjects.filter((p) => p.fq_name.join(':') === `default-domain:${id}`).length,
    ipams: state.networkIpams.filter((i) => i.fq_name[1] === id).length,
    virtualNetworks: state.virtualNetworks.filter((n) => n.fq_name[1] === id).length,
    namespace: state.namespaces.get(id)?.metadata.labels['iot-platform.io/tenant'] ?? null,
  };
}

const nothing = { keystoneProjects: 0, contrailProjects: 0, ipams: 0, virtualNetworks: 0, namespace: null };
const everything = (id: string) => ({ keystoneProjects: 1, contrailProjects: 1, ipams: 1, virtualNetworks: 1, namespace: id });

describe('onboarding tenants through the router', () => {
  let platform: Platform;
  let state: CloudState;
  let admin: string;
  const onboard = async (input: Record<string, unknown>, token = admin) => graphql(platform.routerUrl, ONBOARD, { input }, { token });

  beforeAll(async () => {
    platform = await startTestPlatform({ startCollector: false });
    state = platform.simulator!.cloud.state;
    admin = await adminToken();
  });

  afterAll(async () => {
    await platform?.close();
  });

  it('creates the namespace, the Contrail project, IPAM and virtual network with its own route target, and the Keystone project', async () => {
    expect(footprint(state, 'brno-city')).toEqual(nothing);
    const { data, errors } = await onboard({ id: 'brno-city', name: 'City of Brno' });
    expect(errors).toBeUndefined();
    expect(data!.onboardTenant).toEqual({
      tenant: {
        id: 'brno-city',
        namespace: { name: 'brno-city', tenant: 'brno-city', phase: 'Active' },
        virtualNetwork: {
          fqName: ['default-domain', 'brno-city', 'brno-city-iot'],
          tenant: 'brno-city',
          routeTargets: ['target:64512:5'],
          subnets: ['10.104.0.0/16'],
        },
        project: { name: 'brno-city', description: 'City of Brno', enabled: true },
      },
      userErrors: [],
    });
    expect(footprint(state, 'brno-city')).toEqual(everything('brno-city'));
    // Contrail names the project after its Keystone id, as its Keystone sync does.
    const keystoneId = state.projects.find((p) => p.name === 'brno-city')!.id;
    expect(state.contrailProjects.find((p) => p.name === 'brno-city')!.uuid.replaceAll('-', '')).toBe(keystoneId);
    // The network takes its addresses from the tenant's own IPAM (the vRouters' tenant wall relies on it).
    const network = state.virtualNetworks.find((n) => n.fq_name.join(':') === 'default-domain:brno-city:brno-city-iot')!;
    expect((network['network_ipam_refs'] as Array<{ to: string[] }>).map((r) => r.to)).toEqual([
      ['default-domain', 'brno-city', 'brno-city-ipam'],
    ]);

    const tenants = await graphql(platform.routerUrl, '{ tenants { id } }', undefined, { token: admin });
    expect(tenants.data!.tenants.map((t: { id: string }) => t.id)).toEqual([
      'austin-summit',
      'brno-city',
      'pisek-city',
      'pisek-lights',
      'pisek-parking',
    ]);
  });

  it('leaves nothing behind when the last step fails, and the id can be onboarded afterwards', async () => {
    state.injectFault({ system: 'kubernetes', method: 'POST', path: /^\/api\/v1\/namespaces$/, status: 500, message: 'etcd is down' });
    const { data, errors } = await onboard({ id: 'ostrava-city', name: 'Ostrava' });
    expect(errors).toBeUndefined();
    expect(data!.onboardTenant.tenant).toBeNull();
    expect(data!.onboardTenant.userErrors).toEqual([
      {
        code: 'UPSTREAM_ERROR',
        field: null,
        message: expect.stringMatching(
          /^Onboarding tenant "ostrava-city": creating its Kubernetes namespace failed: .*etcd is down; undone: /,
        ),
      },
    ]);
    expect(data!.onboardTenant.userErrors[0].message).toMatch(
      /undone: creating its Contrail virtual network, creating its Contrail network IPAM, creating its Contrail project, creating its OpenStack project$/,
    );
    expect(footprint(state, 'ostrava-city')).toEqual(nothing);

    const retried = await onboard({ id: 'ostrava-city', name: 'Ostrava' });
    expect(retried.data!.onboardTenant.userErrors).toEqual([]);
    expect(footprint(state, 'ostrava-city')).toEqual(everything('ostrava-city'));
  });

  it('gives tenants onboarded at the same time route targets and subnets of their own', async () => {
    const ids = ['zlin-city', 'jihlava-city', 'kolin-city'];
    const results = await Promise.all(ids.map((id) => onboard({ id, name: id })));
    const networks = results.map((r) => r.data!.onboardTenant.tenant.virtualNetwork);
    expect(networks.map((n: { tenant: string }) => n.tenant)).toEqual(ids);
    const taken = state.virtualNetworks.flatMap(
      (n) => (n['route_target_list'] as { route_target: string[] } | undefined)?.route_target ?? [],
    );
    expect(new Set(taken).size).toBe(taken.length);
    const subnets = networks.flatMap((n: { subnets: string[] }) => n.subnets);
    expect(new Set(subnets).size).toBe(ids.length);
  });

  it('is idempotent: a retry with the same key returns the first result and onboards nothing more', async () => {
    const input = { id: 'plzen-city', name: 'Plzen', idempotencyKey: 'onboard-plzen-1' };
    const first = await onboard(input);
    expect(first.data!.onboardTenant.userErrors).toEqual([]);
    const routeTarget = first.data!.onboardTenant.tenant.virtualNetwork.routeTargets;
    const again = await onboard(input);
    expect(again.data!.onboardTenant).toEqual(first.data!.onboardTenant);
    expect(footprint(state, 'plzen-city')).toEqual(everything('plzen-city'));
    expect(state.virtualNetworks.filter((n) => JSON.stringify(n['route_target_list']).includes(`"${routeTarget[0]}"`))).toHaveLength(1);

    const reused = await onboard({ ...input, name: 'Pilsen' });
    expect(reused.data!.onboardTenant).toEqual({
      tenant: null,
      userErrors: [{ code: 'IDEMPOTENCY_KEY_REUSED', field: ['input', 'idempotencyKey'], message: expect.any(String) }],
    });
    // Without the key, the same request is a new one: the id is taken now.
    const unkeyed = await onboard({ id: 'plzen-city', name: 'Plzen' });
    expect(unkeyed.data!.onboardTenant).toEqual({
      tenant: null,
      userErrors: [{ code: 'ALREADY_EXISTS', field: ['input', 'id'], message: expect.stringContaining('plzen-city') }],
    });
  });

  it('refuses taken and invalid ids as user errors, creating nothing', async () => {
    const cases: Array<[string, string]> = [
      ['pisek-city', 'ALREADY_EXISTS'],
      ['default', 'ALREADY_EXISTS'], // Kubernetes' own namespace
      ['admin', 'ALREADY_EXISTS'], // the operators' Keystone project
      ['ab', 'BAD_USER_INPUT'],
      ['Bad_Tenant', 'BAD_USER_INPUT'],
      ['-dash-first', 'BAD_USER_INPUT'],
      [`x${'a'.repeat(63)}`, 'BAD_USER_INPUT'],
      ['kube-tenant', 'BAD_USER_INPUT'],
    ];
    const keystoneBefore = state.projects.length;
    const namespacesBefore = state.namespaces.size;
    for (const [id, code] of cases) {
      const { data, errors } = await onboard({ id, name: 'Somebody' });
      expect(errors, id).toBeUndefined();
      expect(data!.onboardTenant, id).toEqual({
        tenant: null,
        userErrors: [{ code, field: ['input', 'id'], message: expect.any(String) }],
      });
    }
    const blankName = await onboard({ id: 'nameless-city', name: '  ' });
    expect(blankName.data!.onboardTenant.userErrors).toEqual([
      { code: 'BAD_USER_INPUT', field: ['input', 'name'], message: expect.any(String) },
    ]);
    expect([state.projects.length, state.namespaces.size]).toEqual([keystoneBefore, namespacesBefore]);
    expect(state.namespaces.get('pisek-city')?.metadata.labels['iot-platform.io/tenant']).toBe('pisek-city');
  });

  it('is for operators only: anyone else gets FORBIDDEN naming the admin scope, and nothing is created', async () => {
    const tenantDeveloper = await tokenFor('pisek-city', [...tenantScopes]);
    const { data, errors } = await onboard({ id: 'forbidden-city', name: 'Nope' }, tenantDeveloper);
    expect(data?.onboardTenant ?? null).toBeNull();
    expect(errors?.[0]?.extensions).toMatchObject({ code: 'FORBIDDEN', scope: Scope.ADMIN });
    expect(footprint(state, 'forbidden-city')).toEqual(nothing);
  });

  it("gives the new tenant's token its own (empty) lists, and its gateways register", async () => {
    const { data } = await onboard({ id: 'tabor-city', name: 'Tabor' });
    expect(data!.onboardTenant.userErrors).toEqual([]);
    const tabor = await tokenFor('tabor-city');
    const own = await graphql(
      platform.routerUrl,
      '{ tenants { id namespace { name } } gateways { id } sensors { id } datacenter { kubernetes { nodes { name } namespaces { name } } contrail { virtualNetworks { name } vRouters { name } } openstack { projects { name } } } }',
      undefined,
      { token: tabor },
    );
    expect(own.errors).toBeUndefined();
    expect(own.data).toEqual({
      tenants: [{ id: 'tabor-city', namespace: { name: 'tabor-city' } }],
      gateways: [],
      sensors: [],
      datacenter: {
        kubernetes: { nodes: [], namespaces: [{ name: 'tabor-city' }] },
        contrail: { virtualNetworks: [{ name: 'tabor-city-iot' }], vRouters: [] },
        openstack: { projects: [{ name: 'tabor-city' }] },
      },
    });

    const registered = await graphql(platform.routerUrl, REGISTER, { input: registration('tabor-gw001', 'tabor-city') }, { token: tabor });
    expect(registered.errors).toBeUndefined();
    expect(registered.data!.registerGateway).toEqual({
      gateway: { id: 'tabor-gw001', tenant: 'tabor-city', status: 'PROVISIONING' },
      collector: { namespace: 'tabor-city' },
      userErrors: [],
    });
    expect(state.nodes.get('tabor-gw001')?.metadata.labels['iot-platform.io/tenant']).toBe('tabor-city');
    // Its vRouter serves the new tenant's network, so the tenant sees it behind its wall.
    const after = await graphql(
      platform.routerUrl,
      '{ gateways { id } datacenter { contrail { vRouters { name virtualNetworks { name } } } } }',
      undefined,
      { token: tabor },
    );
    expect(after.data).toEqual({
      gateways: [{ id: 'tabor-gw001' }],
      datacenter: { contrail: { vRouters: [{ name: 'tabor-gw001', virtualNetworks: [{ name: 'tabor-city-iot' }] }] } },
    });
  });

  it('still refuses gateways of a tenant never onboarded, with the user error on `tenant`', async () => {
    const { data, errors } = await graphql(
      platform.routerUrl,
      REGISTER,
      { input: registration('nowhere-gw001', 'nowhere-city') },
      { token: admin },
    );
    expect(errors).toBeUndefined();
    expect(data!.registerGateway).toEqual({
      gateway: null,
      collector: null,
      userErrors: [
        {
          code: 'BAD_USER_INPUT',
          field: ['input', 'tenant'],
          message: expect.stringMatching(/^tenant "nowhere-city" has no Contrail virtual network .*onboarded first/),
        },
      ],
    });
    expect(state.nodes.has('nowhere-gw001')).toBe(false);
    expect(await platform.registry.getMany(['nowhere-gw001'])).toEqual([undefined]);
  });
});
