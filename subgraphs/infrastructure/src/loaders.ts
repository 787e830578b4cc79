import DataLoader from 'dataloader';
import { ErrorCode, userError } from '#kit';
import {
  GatewayLabel,
  UpstreamError,
  isLabelValue,
  labelSelectorIn,
  type ContrailBgpRouter,
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

/** Whole lists of each system, fetched at most once per operation. */
export interface InfrastructureLists {
  projects(): Promise<OpenStackProject[]>;
  servers(): Promise<OpenStackServer[]>;
  hypervisors(): Promise<OpenStackHypervisor[]>;
  networks(): Promise<OpenStackNetwork[]>;
  virtualNetworks(): Promise<ContrailVirtualNetwork[]>;
  virtualRouters(): Promise<ContrailVirtualRouter[]>;
  bgpRouters(): Promise<ContrailBgpRouter[]>;
  nodes(): Promise<KubeNode[]>;
  pods(): Promise<KubePod[]>;
  namespaces(): Promise<KubeNamespace[]>;
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
  serversByHypervisor: DataLoader<string, OpenStackServer[]>;
}

/** The per-operation loaders; never share them between requests. */
export function createInfrastructureLoaders(sources: InfrastructureSources): InfrastructureLoaders {
  const { openstack, contrail, kubernetes } = sources;
  const lists: InfrastructureLists = {
    projects: once(() => upstream(() => openstack.listProjects())),
    servers: once(() => upstream(() => openstack.listServers())),
    hypervisors: once(() => upstream(() => openstack.listHypervisors())),
    networks: once(() => upstream(() => openstack.listNetworks())),
    virtualNetworks: once(() => upstream(() => contrail.listVirtualNetworks())),
    virtualRouters: once(() => upstream(() => contrail.listVirtualRouters())),
    bgpRouters: once(() => upstream(() => contrail.listBgpRouters())),
    nodes: once(() => upstream(() => kubernetes.listNodes())),
    pods: once(() => upstream(() => kubernetes.listPods())),
    namespaces: once(() => upstream(() => kubernetes.listNamespaces())),
  };

  return {
    lists,
    nodeByGateway: new DataLoader(async (ids) => {
      // An id that cannot be a label value cannot name a labelled node (and must not reach the selector).
      const valid = ids.filter(isLabelValue);
      const nodes = valid.length ? await upstream(() => kubernetes.listNodes(labelSelectorIn(GatewayLabel.GATEWAY, [...new Set(valid)]))) : [];
      const byGateway = new Map(nodes.map((n) => [n.labels[GatewayLabel.GATEWAY], n]));
      return ids.map((id) => byGateway.get(id) ?? null);
    }),
    podsByNode: new DataLoader(async (names) => {
      // One node: let the API server filter. Several: one list of all pods beats N calls.
      const pods = names.length === 1 && isLabelValue(names[0]!) ? await upstream(() => kubernetes.listPods({ nodeName: names[0] })) : await lists.pods();
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
    serversByHypervisor: new DataLoader(async (hostnames) => {
      const servers = await lists.servers();
      return hostnames.map((host) => servers.filter((s) => s.hypervisorHostname === host));
    }),
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
    if (error instanceof UpstreamError) throw userError(ErrorCode.UPSTREAM_ERROR, `${apiName(error.system)}: ${error.message.replace(/^\w+: /, '')}`, { system: error.system, status: error.status });
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
