import { randomBytes } from 'node:crypto';
import type { Logger } from '#log';
import type { ContrailClient, ContrailVirtualMachineInterface } from './contrail.ts';
import type { CreatePodInput, KubePod, KubernetesClient } from './kubernetes.ts';
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
  contrail: Pick<
    ContrailClient,
    | 'listVirtualNetworks'
    | 'createVirtualRouter'
    | 'findVirtualRouter'
    | 'deleteVirtualRouter'
    | 'listVirtualMachineInterfaces'
    | 'createVirtualMachineInterface'
    | 'deleteVirtualMachineInterface'
  >;
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

/**
 * The Contrail interface of a guest tenant's collector on a shared gateway: in the tenant's
 * project, named after the gateway (one per tenant and gateway).
 */
export function guestInterfaceFqName(gatewayId: string, tenant: string): string[] {
  return ['default-domain', tenant, `collector-${gatewayId}`];
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
 *
 * A shared gateway serves guest tenants besides its owner (`addTenant`): each guest has its own
 * collector pod on the gateway's node, in the guest's namespace, and a virtual machine interface
 * on the guest's virtual network bound to the gateway's vRouter. The owner's parts (node labelled
 * with the owner, vRouter serving the owner's network, collector) are the gateway's own.
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
   * Removes every tenant's collector pods and interfaces on the gateway (a shared gateway's guests'
   * too), its vRouter and its Kubernetes node, then runs `more`. Parts already gone are skipped,
   * so a retry after a partial failure elsewhere completes it.
   */
  async deprovision(gateway: GatewayToProvision, more: readonly Step[] = []): Promise<void> {
    const { kubernetes, contrail } = this.#options;
    const [pods, interfaces, vrouter, node] = await Promise.all([
      kubernetes.listPods({ labelSelector: collectorSelector(gateway.id) }),
      contrail.listVirtualMachineInterfaces(),
      contrail.findVirtualRouter(gateway.id),
      kubernetes.readNode(gateway.id),
    ]);
    const vrouterNetwork = this.#virtualNetwork(gateway.tenant);
    await runSteps(
      `Decommissioning gateway "${gateway.id}"`,
      [
        ...pods.map((pod) => this.#podRemoval(gateway, pod)),
        ...interfaces.filter((i) => i.hostId === gateway.id).map((i) => this.#interfaceRemoval(i)),
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

  /**
   * Makes `tenant` a guest of the gateway: checks it is onboarded, creates its interface on its
   * virtual network bound to the gateway's vRouter, then deploys its collector pod on the
   * gateway's node in its namespace; then runs `more`. All or nothing.
   */
  async addTenant(gateway: GatewayToProvision, tenant: string, more: readonly Step[] = []): Promise<CollectorPod> {
    if (tenant === gateway.tenant) throw new Error(`tenant "${tenant}" owns gateway "${gateway.id}": it is no guest of it`);
    const { contrail } = this.#options;
    const fqName = guestInterfaceFqName(gateway.id, tenant);
    let interfaceUuid: string | undefined;
    const collector = this.#creation(`deploying the collector pod of tenant "${tenant}"`, this.guestCollectorPod(gateway, tenant));
    await runSteps(
      `Adding tenant "${tenant}" to gateway "${gateway.id}"`,
      [
        this.#tenantCheck(tenant),
        {
          name: `creating the Contrail interface of tenant "${tenant}"`,
          run: async () => {
            interfaceUuid = (
              await contrail.createVirtualMachineInterface({
                fqName,
                virtualNetworkFqName: this.#virtualNetwork(tenant),
                hostId: gateway.id,
              })
            ).uuid;
          },
          undo: () => contrail.deleteVirtualMachineInterface(interfaceUuid!),
        },
        collector.step,
        ...more,
      ],
      this.#options.logger.child({ gatewayId: gateway.id, tenant }),
    );
    this.#options.logger.info({ gateway: gateway.id, tenant, pod: collector.pod.name, interface: fqName.join(':') }, 'guest tenant added');
    return collector.pod;
  }

  /**
   * Removes a guest tenant's collector pods and interface from the gateway, then runs `more`; all
   * or nothing. Parts already gone are skipped (the tenant need not be onboarded any more).
   */
  async removeTenant(gateway: GatewayToProvision, tenant: string, more: readonly Step[] = []): Promise<void> {
    if (tenant === gateway.tenant) throw new Error(`tenant "${tenant}" owns gateway "${gateway.id}": decommission the gateway instead`);
    const { kubernetes, contrail } = this.#options;
    const [pods, interfaces] = await Promise.all([
      kubernetes.listPods({ namespace: tenant, labelSelector: collectorSelector(gateway.id) }),
      contrail.listVirtualMachineInterfaces(),
    ]);
    await runSteps(
      `Removing tenant "${tenant}" from gateway "${gateway.id}"`,
      [
        ...pods.map((pod) => this.#podRemoval(gateway, pod)),
        ...interfaces.filter((i) => i.hostId === gateway.id && i.project === tenant).map((i) => this.#interfaceRemoval(i)),
        ...more,
      ],
      this.#options.logger.child({ gatewayId: gateway.id, tenant }),
    );
    this.#options.logger.info({ gateway: gateway.id, tenant, pods: pods.map((p) => p.name) }, 'guest tenant removed');
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
    return this.#collectorPodOf(gateway, gateway.tenant, name);
  }

  /** The collector pod of a guest tenant of the gateway: the same, in the guest's namespace, its name showing the guest. */
  guestCollectorPod(
    gateway: GatewayToProvision,
    tenant: string,
    name = `collector-${gateway.id}-${tenant}-${podSuffix()}`,
  ): CreatePodInput {
    return this.#collectorPodOf(gateway, tenant, name);
  }

  #collectorPodOf(gateway: GatewayToProvision, tenant: string, name: string): CreatePodInput {
    return {
      name,
      namespace: tenant,
      labels: { app: 'collector', [GatewayLabel.GATEWAY]: gateway.id, [GatewayLabel.TENANT]: tenant },
      nodeSelector: { [GatewayLabel.ARCH]: gateway.arch, [GatewayLabel.HOSTNAME]: gateway.id },
      containers: [
        {
          name: 'collector',
          image: this.#options.collectorImage ?? 'iot-platform/collector:1.0',
          env: { GATEWAY_ID: gateway.id, TENANT: tenant },
        },
      ],
    };
  }

  /** Removes a collector pod of the gateway; its undo makes it again for the tenant whose namespace it is in. */
  #podRemoval(gateway: GatewayToProvision, pod: KubePod): Step {
    const template = this.#collectorPodOf(gateway, pod.namespace, pod.name);
    return this.#removal(`removing the collector pod ${pod.namespace}/${pod.name}`, template);
  }

  /** Deletes an interface; its undo creates it again on the same network and host. */
  #interfaceRemoval(vmi: ContrailVirtualMachineInterface): Step {
    const { contrail } = this.#options;
    const network = vmi.virtualNetworkRefs[0]?.to ?? this.#virtualNetwork(vmi.project);
    return {
      name: `removing the Contrail interface ${vmi.fqName.join(':')}`,
      run: () => contrail.deleteVirtualMachineInterface(vmi.uuid),
      undo: async () =>
        void (await contrail.createVirtualMachineInterface({
          fqName: vmi.fqName,
          virtualNetworkFqName: network,
          hostId: vmi.hostId ?? '',
        })),
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
