import DataLoader from 'dataloader';
import type { Caller } from '#auth';
import { ErrorCode, userError } from '#kit';
import {
  GatewayLabel,
  UpstreamError,
  isLabelValue,
  labelSelectorIn,
  tenantVirtualNetwork,
  type ContrailBgpRouter,
  type ContrailVirtualMachineInterface,
  type ContrailVirtualNetwork,
  type ContrailVirtualRouter,
  type KubeNamespace,
  type KubeNode,
  type KubePod,
  type OpenStackHypervisor,
  type OpenStackNetwork,
  type OpenStackProject,
  type OpenStackServer,
  type SystemName,
} from '#cloud';
import type { InfrastructureSources } from './context.ts';
import type { TenantModel } from './models.ts';
import { tenantWall } from './tenant-wall.ts';

/** Whole lists of each system, fetched at most once per operation, narrowed to what the caller sees. */
export interface InfrastructureLists {
  projects(): Promise<OpenStackProject[]>;
  servers(): Promise<OpenStackServer[]>;
  hypervisors(): Promise<OpenStackHypervisor[]>;
  networks(): Promise<OpenStackNetwork[]>;
  virtualNetworks(): Promise<ContrailVirtualNetwork[]>;
  virtualRouters(): Promise<ContrailVirtualRouter[]>;
  virtualInterfaces(): Promise<ContrailVirtualMachineInterface[]>;
  bgpRouters(): Promise<ContrailBgpRouter[]>;
  nodes(): Promise<KubeNode[]>;
  pods(): Promise<KubePod[]>;
  namespaces(): Promise<KubeNamespace[]>;
  /** Tenants by the `iot-platform.io/tenant` label of the namespaces the caller sees, by id. */
  tenants(): Promise<TenantModel[]>;
  /** Gateways the caller has a collector pod or an interface on: its own, and shared ones it is a guest of. */
  gatewaysServed(): Promise<ReadonlySet<string>>;
}

export interface InfrastructureLoaders {
  lists: InfrastructureLists;
  /** A gateway's node, by the `iot-platform.io/gateway` label; one `listNodes` per batch. */
  nodeByGateway: DataLoader<string, KubeNode | null>;
  /** Pods scheduled on a node. */
  podsByNode: DataLoader<string, KubePod[]>;
  podsByNamespace: DataLoader<string, KubePod[]>;
  /** A vRouter by host name (a gateway's is named after the gateway). */
  vrouterByName: DataLoader<string, ContrailVirtualRouter | null>;
  /** Virtual networks that use an IPAM, by the IPAM's uuid. */
  virtualNetworksByIpam: DataLoader<string, ContrailVirtualNetwork[]>;
  /** A virtual network by uuid. */
  virtualNetwork: DataLoader<string, ContrailVirtualNetwork | null>;
  /** Interfaces bound to a host's vRouter (`host_id`), by host name. */
  interfacesByHost: DataLoader<string, ContrailVirtualMachineInterface[]>;
  serversByHypervisor: DataLoader<string, OpenStackServer[]>;
  /** A tenant's namespace (named like the tenant), by tenant id. */
  namespaceOfTenant: DataLoader<string, KubeNamespace | null>;
  /** A tenant's virtual network (`tenantVirtualNetwork`), by tenant id. */
  virtualNetworkOfTenant: DataLoader<string, ContrailVirtualNetwork | null>;
  /** A tenant's Keystone project (named like the tenant), by tenant id. */
  projectOfTenant: DataLoader<string, OpenStackProject | null>;
}

/**
 * The per-operation loaders; never share them between requests. Every list and lookup is behind
 * `caller`'s tenant wall (see `tenantWall`): resolvers see nothing of another tenant.
 */
export function createInfrastructureLoaders(sources: InfrastructureSources, caller: Caller): InfrastructureLoaders {
  const { openstack, contrail, kubernetes } = sources;
  const wall = tenantWall(caller);
  const allProjects = once(() => upstream(() => openstack.listProjects()));
  const allNamespaces = once(() => upstream(() => kubernetes.listNamespaces()));
  const ownProjectIds = once(async () => new Set((await allProjects()).filter(wall.project).map((p) => p.id)));
  const ownNamespaces = once(async () => new Set((await allNamespaces()).filter(wall.namespace).map((ns) => ns.name)));
  /** Pods in the caller's namespaces. */
  const ownPods = async (pods: KubePod[]) => {
    if (wall.operator) return pods;
    const namespaces = await ownNamespaces();
    return pods.filter((p) => namespaces.has(p.namespace));
  };
  /** The items of `list` in the caller's OpenStack project, and the shared ones (networks). */
  const inOwnProjects = <T extends { projectId?: string; shared?: boolean }>(list: () => Promise<T[]>) =>
    once(async () => {
      if (wall.operator) return list();
      const [items, ids] = await Promise.all([list(), ownProjectIds()]);
      return items.filter((item) => item.shared || (item.projectId !== undefined && ids.has(item.projectId)));
    });
  const lists: InfrastructureLists = {
    projects: once(async () => (await allProjects()).filter(wall.project)),
    servers: inOwnProjects(() => upstream(() => openstack.listServers())),
    // Compute nodes and the BGP mesh are the operators' business: tenants get empty lists.
    hypervisors: once(async () => (wall.operator ? upstream(() => openstack.listHypervisors()) : [])),
    // Shared networks (the external one) are listed to every project, as Neutron does.
    networks: inOwnProjects(() => upstream(() => openstack.listNetworks())),
    virtualNetworks: once(async () => (await upstream(() => contrail.listVirtualNetworks())).filter(wall.virtualNetwork)),
    virtualRouters: once(async () => {
      const [routers, served] = await Promise.all([upstream(() => contrail.listVirtualRouters()), lists.gatewaysServed()]);
      return routers.filter((router) => wall.virtualRouter(router, served));
    }),
    virtualInterfaces: once(async () => (await upstream(() => contrail.listVirtualMachineInterfaces())).filter(wall.virtualInterface)),
    bgpRouters: once(async () => (wall.operator ? upstream(() => contrail.listBgpRouters()) : [])),
    nodes: once(async () => seenNodes(await upstream(() => kubernetes.listNodes()))),
    pods: once(async () => ownPods(await upstream(() => kubernetes.listPods()))),
    namespaces: once(async () => (await allNamespaces()).filter(wall.namespace)),
    tenants: once(async () => {
      const ids = new Set((await lists.namespaces()).flatMap((ns) => ns.labels[GatewayLabel.TENANT] ?? []));
      return [...ids].sort().map((id) => ({ id }));
    }),
    gatewaysServed: once(async () => {
      if (wall.operator) return new Set<string>();
      const [pods, interfaces] = await Promise.all([lists.pods(), lists.virtualInterfaces()]);
      return wall.gatewaysServed(pods, interfaces);
    }),
  };
  /** The nodes the caller sees, as it sees them; asks what it serves only when some node is not its own. */
  const seenNodes = async (nodes: KubeNode[]) => {
    const served = nodes.every(wall.ownNode) ? new Set<string>() : await lists.gatewaysServed();
    return nodes.flatMap((node) => wall.node(node, served) ?? []);
  };
  /** A loader of one item per key out of a whole list, matched by `keyOf(item)` and `wanted(key)`. */
  const pick = <T>(list: () => Promise<T[]>, keyOf: (item: T) => string, wanted: (key: string) => string = (key) => key) =>
    new DataLoader<string, T | null>(async (keys) => {
      const byKey = new Map((await list()).map((item) => [keyOf(item), item]));
      return keys.map((key) => byKey.get(wanted(key)) ?? null);
    });

  return {
    lists,
    nodeByGateway: new DataLoader(async (ids) => {
      // An id that cannot be a label value cannot name a labelled node (and must not reach the selector).
      const valid = ids.filter(isLabelValue);
      const nodes = valid.length
        ? await upstream(() => kubernetes.listNodes(labelSelectorIn(GatewayLabel.GATEWAY, [...new Set(valid)])))
        : [];
      const byGateway = new Map((await seenNodes(nodes)).map((n) => [n.labels[GatewayLabel.GATEWAY], n]));
      return ids.map((id) => byGateway.get(id) ?? null);
    }),
    podsByNode: new DataLoader(async (names) => {
      // One node: let the API server filter. Several: one list of all pods beats N calls.
      const pods =
        names.length === 1 && isLabelValue(names[0]!)
          ? await ownPods(await upstream(() => kubernetes.listPods({ nodeName: names[0] })))
          : await lists.pods();
      return names.map((name) => pods.filter((p) => p.nodeName === name));
    }),
    podsByNamespace: new DataLoader(async (namespaces) => {
      const pods = await lists.pods();
      return namespaces.map((ns) => pods.filter((p) => p.namespace === ns));
    }),
    vrouterByName: new DataLoader(async (names) => {
      const byName = new Map((await lists.virtualRouters()).map((r) => [r.name, r]));
      return names.map((name) => byName.get(name) ?? null);
    }),
    virtualNetworksByIpam: new DataLoader(async (uuids) => {
      const networks = await lists.virtualNetworks();
      return uuids.map((uuid) => networks.filter((n) => n.networkIpamRefs.some((r) => r.uuid === uuid)));
    }),
    virtualNetwork: pick(lists.virtualNetworks, (n) => n.uuid),
    interfacesByHost: new DataLoader(async (hosts) => {
      const interfaces = await lists.virtualInterfaces();
      return hosts.map((host) => interfaces.filter((i) => i.hostId === host));
    }),
    serversByHypervisor: new DataLoader(async (hostnames) => {
      const servers = await lists.servers();
      return hostnames.map((host) => servers.filter((s) => s.hypervisorHostname === host));
    }),
    namespaceOfTenant: pick(lists.namespaces, (ns) => ns.name),
    virtualNetworkOfTenant: pick(
      lists.virtualNetworks,
      (n) => n.fqName.join(':'),
      (tenant) => tenantVirtualNetwork(tenant).join(':'),
    ),
    projectOfTenant: pick(lists.projects, (p) => p.name),
  };
}

/**
 * Runs a call to an external system; its failure reaches the client as UPSTREAM_ERROR
 * ("Kubernetes API: GET /api/v1/nodes answered 503: ..."). Anything else is a bug and stays masked.
 */
export async function upstream<T>(run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (error) {
    if (error instanceof UpstreamError)
      throw userError(ErrorCode.UPSTREAM_ERROR, `${apiName(error.system)}: ${error.message.replace(/^\w+: /, '')}`, {
        system: error.system,
        status: error.status,
      });
    throw error;
  }
}

function apiName(system: SystemName): string {
  return `${system} API`;
}

function once<T>(run: () => Promise<T>): () => Promise<T> {
  let promise: Promise<T> | undefined;
  return () => (promise ??= run());
}
