import type { Caller } from '#auth';
import type { ContrailClient, KubernetesClient, OpenStackClient } from '#cloud';
import { createInfrastructureLoaders, type InfrastructureLoaders } from './loaders.ts';

/** The external systems the subgraph reads: the `#cloud` clients, or anything shaped like them. */
export interface InfrastructureSources {
  openstack: Pick<OpenStackClient, 'listProjects' | 'listServers' | 'listHypervisors' | 'listNetworks'>;
  contrail: Pick<ContrailClient, 'listVirtualNetworks' | 'listVirtualRouters' | 'listBgpRouters'>;
  kubernetes: Pick<KubernetesClient, 'listNodes' | 'listPods' | 'listNamespaces'>;
}

export interface InfrastructureContext {
  /** Who is asking, as the router signed it: every resolver scopes what it returns to this caller. */
  caller: Caller;
  sources: InfrastructureSources;
  /** Created per operation: nothing is cached across requests. */
  loaders: InfrastructureLoaders;
}

export function createInfrastructureContext(sources: InfrastructureSources, caller: Caller): InfrastructureContext {
  return { caller, sources, loaders: createInfrastructureLoaders(sources, caller) };
}
