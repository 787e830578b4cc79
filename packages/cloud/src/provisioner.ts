import type { Logger } from '#log';
import type { ContrailClient } from './contrail.ts';
import type { KubernetesClient } from './kubernetes.ts';
import { gatewayNodeLabels } from './labels.ts';

export interface GatewayToProvision {
  id: string;
  tenant: string;
  arch: 'amd64' | 'arm' | 'arm64';
  /** Address of the gateway's vRouter agent, when known. */
  ip?: string;
}

export interface GatewayProvisionerOptions {
  kubernetes: Pick<KubernetesClient, 'createNode' | 'deleteNode'>;
  contrail: Pick<ContrailClient, 'createVirtualRouter' | 'findVirtualRouter' | 'deleteVirtualRouter'>;
  logger: Logger;
  /** The Contrail virtual network of a tenant. Default `['default-domain', tenant, `${tenant}-iot`]`. */
  virtualNetworkOf?: (tenant: string) => string[];
}

/** The tenant's IoT virtual network, as the platform names it in Contrail. */
export function tenantVirtualNetwork(tenant: string): string[] {
  return ['default-domain', tenant, `${tenant}-iot`];
}

/**
 * Registers a gateway in the data center: its Kubernetes Node object (so the collector can be
 * scheduled on it) and its Contrail vRouter attached to the tenant's virtual network. Either both
 * exist afterwards or neither: a failing step undoes the completed one.
 */
export class GatewayProvisioner {
  readonly #options: GatewayProvisionerOptions;

  constructor(options: GatewayProvisionerOptions) {
    this.#options = options;
  }

  async provision(gateway: GatewayToProvision): Promise<void> {
    const { kubernetes, contrail, logger } = this.#options;
    const virtualNetworkFqName = (this.#options.virtualNetworkOf ?? tenantVirtualNetwork)(gateway.tenant);
    try {
      await kubernetes.createNode({ name: gateway.id, labels: gatewayNodeLabels(gateway) });
    } catch (error) {
      throw new Error(`Provisioning gateway "${gateway.id}": creating its Kubernetes node failed: ${messageOf(error)}`, { cause: error });
    }
    try {
      await contrail.createVirtualRouter({ name: gateway.id, ip: gateway.ip, virtualNetworkFqName });
    } catch (error) {
      const undo = await kubernetes.deleteNode(gateway.id).then(
        () => 'the Kubernetes node was removed again',
        (undoError: unknown) => `removing the Kubernetes node again also failed: ${messageOf(undoError)}`,
      );
      logger.warn({ gateway: gateway.id, err: error }, 'gateway provisioning rolled back');
      throw new Error(`Provisioning gateway "${gateway.id}": creating its Contrail vRouter failed: ${messageOf(error)}; ${undo}`, { cause: error });
    }
    logger.info({ gateway: gateway.id, tenant: gateway.tenant, arch: gateway.arch }, 'gateway provisioned');
  }

  /** Removes the gateway's vRouter and Kubernetes node; parts already gone are skipped. */
  async deprovision(id: string): Promise<void> {
    const { kubernetes, contrail, logger } = this.#options;
    const failures: string[] = [];
    try {
      const vrouter = await contrail.findVirtualRouter(id);
      if (vrouter) await contrail.deleteVirtualRouter(vrouter.uuid);
    } catch (error) {
      failures.push(`deleting its Contrail vRouter failed: ${messageOf(error)}`);
    }
    try {
      await kubernetes.deleteNode(id);
    } catch (error) {
      failures.push(`deleting its Kubernetes node failed: ${messageOf(error)}`);
    }
    if (failures.length) throw new Error(`Deprovisioning gateway "${id}": ${failures.join('; ')}`);
    logger.info({ gateway: id }, 'gateway deprovisioned');
  }
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
