import { canSeeTenant, isAdmin, type Caller } from '#auth';
import {
  GatewayLabel,
  type ContrailVirtualMachineInterface,
  type ContrailVirtualNetwork,
  type ContrailVirtualRouter,
  type KubeNamespace,
  type KubeNode,
  type KubePod,
  type OpenStackProject,
} from '#cloud';

/**
 * What of the data center a caller sees, by the mark each system puts on a tenant's objects:
 * - Kubernetes: nodes and namespaces labelled `iot-platform.io/tenant: <tenant>` (its gateways'
 *   nodes, its namespaces), and the pods in its namespaces;
 * - OpenContrail: virtual networks and virtual machine interfaces of its project (`fq_name[1]`),
 *   vRouters serving one of its IPAMs (its gateways' vRouters; a compute node's serves none);
 * - OpenStack: its project (named like the tenant), that project's servers and networks, and the
 *   shared networks, as Neutron lists them to a member of the project.
 * Operators (`admin`) see everything; hypervisors and BGP peers are theirs alone.
 *
 * A shared gateway's guest tenants: the data center says a tenant serves a gateway it does not own
 * by the tenant's own objects there, its collector pod (labelled `iot-platform.io/gateway`, in its
 * namespace) or its interface bound to the gateway's vRouter (`gatewaysServed`). Such a guest sees
 * the gateway's node without the label naming the owner (`node`), and the gateway's vRouter
 * (`virtualRouter`), whose networks and interfaces are walled as above: its own only.
 */
export interface TenantWall {
  /** The caller is an operator: nothing is hidden from it. */
  operator: boolean;
  /** Whether the node is the caller's own (its tenant's label, or an operator). */
  ownNode(node: KubeNode): boolean;
  /**
   * The node as the caller sees it: whole when its own, without the tenant label when it is a
   * gateway the caller is a guest of (`served`), else undefined.
   */
  node(node: KubeNode, served: ReadonlySet<string>): KubeNode | undefined;
  namespace(namespace: KubeNamespace): boolean;
  virtualNetwork(network: ContrailVirtualNetwork): boolean;
  /** Its own gateways' vRouters, and those of the gateways it serves as a guest (`served`). */
  virtualRouter(router: ContrailVirtualRouter, served: ReadonlySet<string>): boolean;
  virtualInterface(vmi: ContrailVirtualMachineInterface): boolean;
  project(project: OpenStackProject): boolean;
  /** Gateways with a collector pod or an interface of the caller: give it only pods and interfaces it sees. */
  gatewaysServed(ownPods: readonly KubePod[], ownInterfaces: readonly ContrailVirtualMachineInterface[]): Set<string>;
}

export function tenantWall(caller: Caller): TenantWall {
  const operator = isAdmin(caller);
  const sees = (tenant: string | undefined) => operator || (tenant !== undefined && canSeeTenant(caller, tenant));
  const ownNode = (node: KubeNode) => sees(node.labels[GatewayLabel.TENANT]);
  return {
    operator,
    ownNode,
    node: (node, served) => {
      if (ownNode(node)) return node;
      const gateway = node.labels[GatewayLabel.GATEWAY];
      if (gateway === undefined || !served.has(gateway)) return undefined;
      const { [GatewayLabel.TENANT]: _owner, ...labels } = node.labels;
      return { ...node, labels };
    },
    namespace: (namespace) => sees(namespace.labels[GatewayLabel.TENANT]),
    virtualNetwork: (network) => sees(network.project),
    // An IPAM's fq_name is ['default-domain', <tenant>, <name>], as its networks'.
    virtualRouter: (router, served) => operator || router.networkIpamRefs.some((ref) => sees(ref.to[1])) || served.has(router.name),
    virtualInterface: (vmi) => sees(vmi.project),
    project: (project) => sees(project.name),
    gatewaysServed: (ownPods, ownInterfaces) =>
      new Set([
        ...ownPods.flatMap((pod) => (pod.labels['app'] === 'collector' ? (pod.labels[GatewayLabel.GATEWAY] ?? []) : [])),
        ...ownInterfaces.flatMap((vmi) => vmi.hostId ?? []),
      ]),
  };
}
