/** What the resolvers return for each GraphQL type (codegen `mappers`). */
export type {
  KubeNode as KubernetesNodeModel,
  KubePod as PodModel,
  KubeNamespace as KubernetesNamespaceModel,
  ContrailVirtualNetwork as VirtualNetworkModel,
  ContrailVirtualRouter as VRouterModel,
  ContrailBgpRouter as BgpPeerModel,
  OpenStackProject as ProjectModel,
  OpenStackServer as ServerModel,
  OpenStackHypervisor as HypervisorModel,
  OpenStackNetwork as NetworkModel,
} from '#cloud';

/** A gateway known here only by its id (the devices subgraph owns the rest). */
export interface GatewayRef {
  id: string;
}

/** `Query.datacenter` and its three views carry no data: each field calls its system. */
export type DatacenterModel = Record<string, never>;

/** A tenant by its id: its namespace, virtual network and project are looked up per operation. */
export interface TenantModel {
  id: string;
}
