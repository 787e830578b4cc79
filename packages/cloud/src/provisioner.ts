import { randomBytes } from 'node:crypto';
import type { Logger } from '#log';
import type { ContrailClient } from './contrail.ts';
import type { CreatePodInput, KubernetesClient } from './kubernetes.ts';
import { GatewayLabel, gatewayNodeLabels } from './labels.ts';
import { runSteps, type Step } from './steps.ts';

export interface GatewayToProvision {
  id: string;
  tenant: string;
  arch: 'amd64' | 'arm' | 'arm64';
  /** Address of the gateway's vRouter agent, when known. */
  ip?: string;
}

export interface GatewayProvisionerOptions {
  kubernetes: Pick<KubernetesClient, 'createNode' | 'readNode' | 'deleteNode' | 'listNamespaces' | 'listPods' | 'createPod' | 'deletePod'>;
  contrail: Pick<ContrailClient, 'listVirtualNetworks' | 'createVirtualRouter' | 'findVirtualRouter' | 'deleteVirtualRouter'>;
  logger: Logger;
  /** The Contrail virtual network of a tenant. Default `['default-domain', tenant, `${tenant}-iot`]`. */
  virtualNetworkOf?: (tenant: string) => string[];
  /** The collector's (multi-arch) image. Default `iot-platform/collector:1.0`. */
  collectorImage?: string;
}

/** A collector pod as the provisioner deploys it: in the tenant's namespace, pinned to the gateway. */
export interface CollectorPod {
  name: string;
  namespace: string;
  image: string;
  /** `kubernetes.io/arch` (the gateway's CPU) and `kubernetes.io/hostname` (the gateway's node). */
  nodeSelector: Record<string, string>;
}

/** The tenant has no virtual network or namespace yet: it must be onboarded before its gateways. */
export class TenantNotReadyError extends Error {
  override name = 'TenantNotReadyError';
}

/** The tenant's IoT virtual network, as the platform names it in Contrail. */
export function tenantVirtualNetwork(tenant: string): string[] {
  return ['default-domain', tenant, `${tenant}-iot`];
}

/** Label selector of a gateway's collector pods (gateway ids are valid label values). */
function collectorSelector(gatewayId: string): string {
  return `app=collector,${GatewayLabel.GATEWAY}=${gatewayId}`;
}

/**
 * Provisions gateways in the data center, each operation a list of steps with undo run all or
 * nothing (`runSteps`): a failing step undoes the completed ones, so Kubernetes and Contrail are
 * left as they were. Callers append their own steps (the devices subgraph records the gateway in
 * its registry last), which the same rollback covers.
 *
 * A tenant is onboarded beforehand: its Kubernetes namespace, its Contrail virtual network (with
 * its own route target) and its OpenStack project exist (the simulator seeds them for every
 * scenario tenant); provisioning checks and refuses a tenant that lacks them.
 */
export class GatewayProvisioner {
  readonly #options: GatewayProvisionerOptions;

  constructor(options: GatewayProvisionerOptions) {
    this.#options = options;
  }

  /**
   * Registers the gateway's Kubernetes node with its labels (tenant, gateway, `kubernetes.io/arch`),
   * creates its Contrail vRouter serving the tenant's virtual network, and deploys its collector
   * pod; then runs `more`.
   */
  async provision(gateway: GatewayToProvision, more: readonly Step[] = []): Promise<CollectorPod> {
    const { kubernetes, contrail } = this.#options;
    const virtualNetworkFqName = this.#virtualNetwork(gateway.tenant);
    let vrouterUuid: string | undefined;
    const collector = this.#creation('deploying its collector pod', this.collectorPod(gateway));
    await runSteps(
      `Provisioning gateway "${gateway.id}"`,
      [
        this.#tenantCheck(gateway.tenant),
        {
          name: 'creating its Kubernetes node',
          run: async () => void (await kubernetes.createNode({ name: gateway.id, labels: gatewayNodeLabels(gateway) })),
          undo: async () => void (await kubernetes.deleteNode(gateway.id)),
        },
        {
          name: 'creating its Contrail vRouter',
          run: async () => {
            vrouterUuid = (await contrail.createVirtualRouter({ name: gateway.id, ip: gateway.ip, virtualNetworkFqName })).uuid;
          },
          undo: () => contrail.deleteVirtualRouter(vrouterUuid!),
        },
        collector.step,
        ...more,
      ],
      this.#options.logger.child({ gatewayId: gateway.id }),
    );
    this.#options.logger.info(
      { gateway: gateway.id, tenant: gateway.tenant, arch: gateway.arch, pod: collector.pod.name },
      'gateway provisioned',
    );
    return collector.pod;
  }

  /** Replaces the gateway's collector pods by a new one: the new pod first, then the old ones go. */
  async deployCollector(gateway: GatewayToProvision, more: readonly Step[] = []): Promise<CollectorPod> {
    const { kubernetes } = this.#options;
    const old = await kubernetes.listPods({ namespace: gateway.tenant, labelSelector: collectorSelector(gateway.id) });
    const collector = this.#creation('deploying its new collector pod', this.collectorPod(gateway));
    await runSteps(
      `Deploying the collector of gateway "${gateway.id}"`,
      [
        this.#tenantCheck(gateway.tenant),
        collector.step,
        ...old.map((pod) => this.#removal(`removing its old collector pod ${pod.name}`, this.collectorPod(gateway, pod.name))),
        ...more,
      ],
      this.#options.logger.child({ gatewayId: gateway.id }),
    );
    this.#options.logger.info({ gateway: gateway.id, pod: collector.pod.name, replaced: old.map((p) => p.name) }, 'collector deployed');
    return collector.pod;
  }

  /**
   * Removes the gateway's collector pods, its vRouter and its Kubernetes node, then runs `more`.
   * Parts already gone are skipped, so a retry after a partial failure elsewhere completes it.
   */
  async deprovision(gateway: GatewayToProvision, more: readonly Step[] = []): Promise<void> {
    const { kubernetes, contrail } = this.#options;
    const [pods, vrouter, node] = await Promise.all([
      kubernetes.listPods({ labelSelector: collectorSelector(gateway.id) }),
      contrail.findVirtualRouter(gateway.id),
      kubernetes.readNode(gateway.id),
    ]);
    const vrouterNetwork = this.#virtualNetwork(gateway.tenant);
    await runSteps(
      `Decommissioning gateway "${gateway.id}"`,
      [
        ...pods.map((pod) =>
          this.#removal(`removing its collector pod ${pod.name}`, { ...this.collectorPod(gateway, pod.name), namespace: pod.namespace }),
        ),
        ...(vrouter
          ? [
              {
                name: 'removing its Contrail vRouter',
                run: () => contrail.deleteVirtualRouter(vrouter.uuid),
                undo: async () =>
                  void (await contrail.createVirtualRouter({
                    name: gateway.id,
                    ip: vrouter.ipAddress,
                    virtualNetworkFqName: vrouterNetwork,
                  })),
              },
            ]
          : []),
        ...(node
          ? [
              {
                name: 'removing its Kubernetes node',
                run: async () => void (await kubernetes.deleteNode(gateway.id)),
                undo: async () => void (await kubernetes.createNode({ name: gateway.id, labels: node.labels })),
              },
            ]
          : []),
        ...more,
      ],
      this.#options.logger.child({ gatewayId: gateway.id }),
    );
    this.#options.logger.info({ gateway: gateway.id }, 'gateway deprovisioned');
  }

  /** Whether the gateway's Kubernetes node exists and reports Ready. */
  async nodeReady(id: string): Promise<boolean> {
    return (await this.#options.kubernetes.readNode(id))?.ready ?? false;
  }

  /**
   * The collector pod of a gateway: in the tenant's namespace, with a node selector for the
   * gateway's CPU architecture and its node. A new pod gets a fresh name suffix, as a
   * ReplicaSet's would, so that it can start before the pod it replaces is gone.
   */
  collectorPod(gateway: GatewayToProvision, name = `collector-${gateway.id}-${podSuffix()}`): CreatePodInput {
    return {
      name,
      namespace: gateway.tenant,
      labels: { app: 'collector', [GatewayLabel.GATEWAY]: gateway.id, [GatewayLabel.TENANT]: gateway.tenant },
      nodeSelector: { [GatewayLabel.ARCH]: gateway.arch, [GatewayLabel.HOSTNAME]: gateway.id },
      containers: [
        {
          name: 'collector',
          image: this.#options.collectorImage ?? 'iot-platform/collector:1.0',
          env: { GATEWAY_ID: gateway.id, TENANT: gateway.tenant },
        },
      ],
    };
  }

  #virtualNetwork(tenant: string): string[] {
    return (this.#options.virtualNetworkOf ?? tenantVirtualNetwork)(tenant);
  }

  /** Checks (changes nothing) that the tenant is onboarded: its virtual network and namespace exist. */
  #tenantCheck(tenant: string): Step {
    const { kubernetes, contrail } = this.#options;
    const wanted = this.#virtualNetwork(tenant).join(':');
    return {
      name: "checking the tenant's virtual network and namespace",
      run: async () => {
        const [networks, namespaces] = await Promise.all([contrail.listVirtualNetworks(), kubernetes.listNamespaces()]);
        if (!networks.some((n) => n.fqName.join(':') === wanted))
          throw new TenantNotReadyError(`tenant "${tenant}" has no Contrail virtual network ${wanted}`);
        if (!namespaces.some((n) => n.name === tenant)) throw new TenantNotReadyError(`tenant "${tenant}" has no Kubernetes namespace`);
      },
    };
  }

  /** Creates a pod from `input`; its undo deletes it again. */
  #creation(name: string, input: CreatePodInput): { step: Step; pod: CollectorPod } {
    const { kubernetes } = this.#options;
    return {
      step: {
        name,
        run: async () => void (await kubernetes.createPod(input)),
        undo: async () => void (await kubernetes.deletePod(input.namespace, input.name)),
      },
      pod: { name: input.name, namespace: input.namespace, image: input.containers[0]!.image, nodeSelector: { ...input.nodeSelector } },
    };
  }

  /** Deletes a pod; its undo creates it again from `input` (the template it was made from). */
  #removal(name: string, input: CreatePodInput): Step {
    const { kubernetes } = this.#options;
    return {
      name,
      run: async () => void (await kubernetes.deletePod(input.namespace, input.name)),
      undo: async () => void (await kubernetes.createPod(input)),
    };
  }
}

/** Five characters as Kubernetes' generated names have them (no vowels: no words by chance). */
function podSuffix(): string {
  const alphabet = 'bcdfghjklmnpqrstvwxz2456789';
  return [...randomBytes(5)].map((b) => alphabet[b % alphabet.length]).join('');
}
