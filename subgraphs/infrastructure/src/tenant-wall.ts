import { canSeeTenant, isAdmin, type Caller } from '#auth';
import {
  GatewayLabel,
  type ContrailVirtualNetwork,
  type ContrailVirtualRouter,
  type KubeNamespace,
  type KubeNode,
  type OpenStackProject,
} from '#cloud';

/**
 * What of the data center a caller sees, by the mark each system puts on a tenant's objects:
 * - Kubernetes: nodes and namespaces labelled `iot-platform.io/tenant: <tenant>` (its gateways'
 *   nodes, its namespaces), and the pods in its namespaces;
 * - OpenContrail: virtual networks of its project (`fq_name[1]`), vRouters serving one of its
 *   IPAMs (its gateways' vRouters; a compute node's serves none);
 * - OpenStack: its project (named like the tenant), that project's servers and networks, and the
 *   shared networks, as Neutron lists them to a member of the project.
 * Operators (`admin`) see everything; hypervisors and BGP peers are theirs alone.
 */
export interface TenantWall {
  /** The caller is an operator: nothing is hidden from it. */
  operator: boolean;
  node(node: KubeNode): boolean;
  namespace(namespace: KubeNamespace): boolean;
  virtualNetwork(network: ContrailVirtualNetwork): boolean;
  virtualRouter(router: ContrailVirtualRouter): boolean;
  project(project: OpenStackProject): boolean;
}

export function tenantWall(caller: Caller): TenantWall {
  const operator = isAdmin(caller);
  const sees = (tenant: string | undefined) => operator || (tenant !== undefined && canSeeTenant(caller, tenant));
  return {
    operator,
    node: (node) => sees(node.labels[GatewayLabel.TENANT]),
    namespace: (namespace) => sees(namespace.labels[GatewayLabel.TENANT]),
    virtualNetwork: (network) => sees(network.project),
    // An IPAM's fq_name is ['default-domain', <tenant>, <name>], as its networks'.
    virtualRouter: (router) => operator || router.networkIpamRefs.some((ref) => sees(ref.to[1])),
    project: (project) => sees(project.name),
  };
}
