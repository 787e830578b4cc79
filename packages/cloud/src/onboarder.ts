import { quoteInput } from '#kit';
import type { Logger } from '#log';
import { isContrailConflict, type ContrailClient, type ContrailVirtualNetwork } from './contrail.ts';
import type { KubernetesClient } from './kubernetes.ts';
import { GatewayLabel } from './labels.ts';
import type { OpenStackClient, OpenStackProject } from './openstack.ts';
import { tenantVirtualNetwork } from './provisioner.ts';
import { runSteps } from './steps.ts';

export interface TenantOnboarderOptions {
  kubernetes: Pick<KubernetesClient, 'listNamespaces' | 'createNamespace' | 'deleteNamespace'>;
  contrail: Pick<
    ContrailClient,
    | 'listProjects'
    | 'createProject'
    | 'deleteProject'
    | 'listVirtualNetworks'
    | 'createNetworkIpam'
    | 'deleteNetworkIpam'
    | 'createVirtualNetwork'
    | 'deleteVirtualNetwork'
  >;
  openstack: Pick<OpenStackClient, 'listProjects' | 'createProject' | 'deleteProject'>;
  logger: Logger;
  /** The data center's BGP autonomous system: route targets are `target:<as>:<n>`. Default 64512. */
  autonomousSystem?: number;
}

export interface TenantToOnboard {
  /** A DNS label of 3-63 characters: it names the namespace, the Contrail and Keystone projects. */
  id: string;
  /** A display name: the Keystone project's description, the Contrail objects' display name. */
  name: string;
}

/** What onboarding made. */
export interface OnboardedTenant {
  id: string;
  namespace: string;
  virtualNetwork: ContrailVirtualNetwork;
  project: OpenStackProject;
}

/** The tenant's id or name cannot be used; `field` names which. */
export class TenantInputError extends Error {
  override name = 'TenantInputError';
  constructor(
    readonly field: 'id' | 'name',
    message: string,
  ) {
    super(message);
  }
}

/** The data center has a namespace, virtual network or Keystone project of the tenant's id already. */
export class TenantExistsError extends Error {
  override name = 'TenantExistsError';
  constructor(
    readonly tenant: string,
    readonly found: readonly string[],
  ) {
    super(`tenant "${tenant}" exists already (${found.join(', ')})`);
  }
}

const DNS_LABEL = /^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$/;
/** Tenants' networks take a /16 each, `10.<n>.0.0/16` with n from 100 (as the simulator seeds them). */
const FIRST_SUBNET_OCTET = 100;

/** Why `id` cannot be a tenant id, or undefined when it can. */
export function tenantIdProblem(id: string): string | undefined {
  if (!DNS_LABEL.test(id))
    return `id ${quoteInput(id)} must be a DNS label: 3-63 lowercase letters, digits or dashes, starting and ending with a letter or digit`;
  if (id.startsWith('kube-')) return `id ${quoteInput(id)} is reserved: Kubernetes keeps the kube- prefix for itself`;
  return undefined;
}

/**
 * Onboards tenants, all or nothing (`runSteps`): a tenant is an OpenStack (Keystone) project, a
 * Contrail project with its own network IPAM and virtual network `<id>-iot` (a route target of
 * its own, its own /16), and a Kubernetes namespace labelled `iot-platform.io/tenant`. The
 * namespace comes last: a tenant lists (and takes gateways) only once all of it exists.
 */
export class TenantOnboarder {
  readonly #options: TenantOnboarderOptions;
  #last: Promise<unknown> = Promise.resolve();

  constructor(options: TenantOnboarderOptions) {
    this.#options = options;
  }

  /**
   * Creates the tenant's objects; throws `TenantInputError`, `TenantExistsError` (nothing made),
   * or `StepFailedError` (what was made is undone). The Contrail project is reused when it exists
   * (Contrail syncs Keystone's projects in some setups).
   */
  onboard(tenant: TenantToOnboard): Promise<OnboardedTenant> {
    // One at a time: each picks the next free route target and /16 from what exists. (Across
    // API instances nothing serialises them: onboard from one.)
    const done = this.#last.then(() => this.#onboard(tenant));
    this.#last = done.catch(() => undefined);
    return done;
  }

  async #onboard(tenant: TenantToOnboard): Promise<OnboardedTenant> {
    const { kubernetes, contrail, openstack } = this.#options;
    const id = tenant.id;
    const name = tenant.name.trim();
    const idProblem = tenantIdProblem(id);
    if (idProblem) throw new TenantInputError('id', idProblem);
    if (!name || name.length > 120) throw new TenantInputError('name', 'name must be 1-120 characters');

    const fqName = tenantVirtualNetwork(id);
    const [projects, namespaces, networks, contrailProjects] = await Promise.all([
      openstack.listProjects(),
      kubernetes.listNamespaces(),
      contrail.listVirtualNetworks(),
      contrail.listProjects(),
    ]);
    const found = [
      ...(namespaces.some((n) => n.name === id) ? ['Kubernetes namespace'] : []),
      ...(networks.some((n) => n.fqName.join(':') === fqName.join(':')) ? ['Contrail virtual network'] : []),
      ...(projects.some((p) => p.name === id) ? ['OpenStack project'] : []),
    ];
    if (found.length) throw new TenantExistsError(id, found);
    const routeTarget = `target:${this.#autonomousSystem}:${this.#nextRouteTarget(networks)}`;
    const subnet = { prefix: `10.${nextSubnetOctet(networks)}.0.0`, length: 16 };
    const existingContrailProject = contrailProjects.find((p) => p.fqName.join(':') === `default-domain:${id}`);

    let project: OpenStackProject | undefined;
    let contrailProjectUuid: string | undefined;
    let ipam: { to: string[]; uuid: string } | undefined;
    let virtualNetwork: ContrailVirtualNetwork | undefined;
    await runSteps(
      `Onboarding tenant "${id}"`,
      [
        {
          name: 'creating its OpenStack project',
          run: async () => void (project = await openstack.createProject({ name: id, description: name })),
          undo: async () => void (await openstack.deleteProject(project!.id)),
        },
        ...(existingContrailProject
          ? []
          : [
              {
                name: 'creating its Contrail project',
                run: async () => {
                  try {
                    contrailProjectUuid = (await contrail.createProject({ name: id, uuid: contrailUuid(project!.id), displayName: name }))
                      .uuid;
                  } catch (error) {
                    // Contrail's Keystone sync made it from the new Keystone project meanwhile: it is Keystone's to remove.
                    if (!isContrailConflict(error)) throw error;
                  }
                },
                undo: async () => {
                  if (contrailProjectUuid) await contrail.deleteProject(contrailProjectUuid);
                },
              },
            ]),
        {
          name: 'creating its Contrail network IPAM',
          run: async () => void (ipam = await contrail.createNetworkIpam(['default-domain', id, `${id}-ipam`])),
          undo: () => contrail.deleteNetworkIpam(ipam!.uuid),
        },
        {
          name: 'creating its Contrail virtual network',
          run: async () =>
            void (virtualNetwork = await contrail.createVirtualNetwork({
              fqName,
              displayName: name,
              routeTargets: [routeTarget],
              ipam: { ref: ipam!, subnet },
            })),
          undo: () => contrail.deleteVirtualNetwork(virtualNetwork!.uuid),
        },
        {
          name: 'creating its Kubernetes namespace',
          run: async () => void (await kubernetes.createNamespace(id, { [GatewayLabel.TENANT]: id })),
          undo: async () => void (await kubernetes.deleteNamespace(id)),
        },
      ],
      this.#options.logger.child({ tenant: id }),
    );
    this.#options.logger.info({ tenant: id, routeTarget, subnet: `${subnet.prefix}/16` }, 'tenant onboarded');
    return { id, namespace: id, virtualNetwork: virtualNetwork!, project: project! };
  }

  get #autonomousSystem(): number {
    return this.#options.autonomousSystem ?? 64512;
  }

  /** One more than the highest route target number of our autonomous system (numbers start at 1). */
  #nextRouteTarget(networks: readonly ContrailVirtualNetwork[]): number {
    const prefix = `target:${this.#autonomousSystem}:`;
    const used = networks
      .flatMap((n) => n.routeTargets)
      .filter((t) => t.startsWith(prefix))
      .map((t) => Number(t.slice(prefix.length)));
    return Math.max(0, ...used.filter(Number.isInteger)) + 1;
  }
}

/** The second octet of the next free tenant /16 (`10.<n>.0.0/16`, n from 100 to 255). */
function nextSubnetOctet(networks: readonly ContrailVirtualNetwork[]): number {
  const used = networks
    .flatMap((n) => n.subnets)
    .flatMap((cidr) => /^10\.(\d+)\.0\.0\/16$/.exec(cidr)?.[1] ?? [])
    .map(Number);
  const next = Math.max(FIRST_SUBNET_OCTET - 1, ...used) + 1;
  if (next > 255) throw new Error('no free tenant subnet is left in 10.100.0.0-10.255.255.255');
  return next;
}

/** A Keystone id (32 hex digits) as the uuid Contrail gives the project it syncs from it. */
function contrailUuid(keystoneId: string): string | undefined {
  const hex = /^[0-9a-f]{32}$/i.exec(keystoneId)?.[0];
  return hex && `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}
