import { requestJson, validateBody, UpstreamError, type JsonRequest } from './http.ts';
import { arrayOf, number, object, optional, string, type Check } from './validate.ts';

/** How to reach the Contrail (Tungsten Fabric) config API, usually `http://controller:8082`. */
export interface ContrailClientOptions {
  url: string;
  /** Keystone token for `X-Auth-Token`, where the API has auth on (e.g. `() => openstack.token()`). */
  authToken?: () => Promise<string>;
  /** Per-request timeout. Default 10 s. */
  timeoutMs?: number;
  fetch?: typeof fetch;
}

/** A reference from one Contrail object to another. */
export interface ContrailRef {
  to: string[];
  uuid: string;
}

export interface ContrailVirtualNetwork {
  uuid: string;
  name: string;
  fqName: string[];
  /** The project (tenant) the network belongs to: `fq_name[1]`. */
  project: string;
  routeTargets: string[];
  /** CIDRs of the network's IPAM subnets. */
  subnets: string[];
  networkIpamRefs: ContrailRef[];
}

export interface ContrailVirtualRouter {
  uuid: string;
  name: string;
  fqName: string[];
  ipAddress?: string;
  /** IPAMs (tenant address spaces) the vRouter serves. */
  networkIpamRefs: ContrailRef[];
}

export interface ContrailBgpRouter {
  uuid: string;
  name: string;
  fqName: string[];
  vendor?: string;
  routerType?: string;
  autonomousSystem?: number;
  address?: string;
  identifier?: string;
  port?: number;
  holdTime?: number;
  addressFamilies: string[];
  /** Names of the routers it peers with. */
  peers: string[];
}

export interface CreateVirtualRouterInput {
  /** Host name of the vRouter; for a gateway, its id. */
  name: string;
  /** Address the vRouter agent reaches the control node from; unknown until the gateway is on line. */
  ip?: string;
  /** Virtual network whose IPAMs the vRouter serves, e.g. `['default-domain', tenant, `${tenant}-iot`]`. */
  virtualNetworkFqName?: string[];
}

/**
 * A virtual machine interface (a port) on a virtual network, bound to the vRouter of a host
 * (`virtual_machine_interface_bindings` `host_id`): on a shared gateway, each guest tenant's
 * collector reaches its own network through one.
 */
export interface ContrailVirtualMachineInterface {
  uuid: string;
  name: string;
  /** `['default-domain', <project>, <name>]`. */
  fqName: string[];
  /** The project (tenant) it belongs to: `fq_name[1]`. */
  project: string;
  virtualNetworkRefs: ContrailRef[];
  macAddresses: string[];
  /** The host whose vRouter it is bound to (`host_id`; for a gateway, its id); undefined when unbound. */
  hostId?: string;
}

export interface CreateVirtualMachineInterfaceInput {
  /** `['default-domain', <project>, <name>]`; the project must exist. */
  fqName: string[];
  /** The network it is on, e.g. `['default-domain', tenant, `${tenant}-iot`]`; must exist. */
  virtualNetworkFqName: string[];
  /** The host whose vRouter it is bound to (`host_id`). */
  hostId: string;
}

/** A Contrail project (`['default-domain', <name>]`): owns a tenant's networks and IPAMs. */
export interface ContrailProject {
  uuid: string;
  name: string;
  fqName: string[];
}

export interface CreateProjectInput {
  name: string;
  /**
   * The project's uuid: with Keystone, Contrail names a project after its Keystone id (dashed),
   * which is what links the two; Contrail picks one when absent.
   */
  uuid?: string;
  displayName?: string;
}

export interface CreateVirtualNetworkInput {
  /** `['default-domain', <project>, <name>]`; the project must exist. */
  fqName: string[];
  displayName?: string;
  /** e.g. `['target:64512:7']`. */
  routeTargets: string[];
  /** The IPAM the network takes its addresses from, and its subnet there. */
  ipam?: { ref: ContrailRef; subnet: { prefix: string; length: number } };
}

const ref: Check<ContrailRef> = object({ to: arrayOf(string), uuid: string });
const listItem = object({ uuid: string, fq_name: arrayOf(string) });

const virtualNetwork = object({
  uuid: string,
  fq_name: arrayOf(string),
  route_target_list: optional(object({ route_target: optional(arrayOf(string)) })),
  network_ipam_refs: optional(
    arrayOf(
      object({
        to: arrayOf(string),
        uuid: string,
        attr: optional(
          object({ ipam_subnets: optional(arrayOf(object({ subnet: optional(object({ ip_prefix: string, ip_prefix_len: number })) }))) }),
        ),
      }),
    ),
  ),
});

const virtualRouter = object({
  uuid: string,
  fq_name: arrayOf(string),
  virtual_router_ip_address: optional(string),
  network_ipam_refs: optional(arrayOf(ref)),
});

const virtualMachineInterface = object({
  uuid: string,
  fq_name: arrayOf(string),
  virtual_network_refs: optional(arrayOf(ref)),
  virtual_machine_interface_mac_addresses: optional(object({ mac_address: optional(arrayOf(string)) })),
  virtual_machine_interface_bindings: optional(object({ key_value_pair: optional(arrayOf(object({ key: string, value: string }))) })),
});

const bgpRouter = object({
  uuid: string,
  fq_name: arrayOf(string),
  bgp_router_parameters: optional(
    object({
      vendor: optional(string),
      router_type: optional(string),
      autonomous_system: optional(number),
      address: optional(string),
      identifier: optional(string),
      port: optional(number),
      hold_time: optional(number),
      address_families: optional(object({ family: optional(arrayOf(string)) })),
    }),
  ),
  bgp_router_refs: optional(arrayOf(ref)),
});

/** `?detail=true` lists wrap each item in an object keyed by the resource type. */
function detailList<T>(collection: string, resource: string, item: Check<T>): Check<T[]> {
  return (value, path) => {
    const body = object({ [collection]: arrayOf(object({ [resource]: item })) })(value, path);
    return (body[collection] ?? []).map((wrapped) => wrapped[resource] as T);
  };
}

/**
 * The Contrail config API over `fetch`: virtual networks, vRouters and BGP routers, plus what a
 * gateway registration needs (create, find and delete a vRouter), what a guest tenant of a shared
 * gateway needs (a virtual machine interface bound to the gateway's vRouter) and what onboarding a
 * tenant needs (its project, network IPAM and virtual network).
 */
export class ContrailClient {
  readonly #url: string;
  readonly #options: ContrailClientOptions;

  constructor(options: ContrailClientOptions) {
    this.#options = options;
    this.#url = options.url.replace(/\/+$/, '');
  }

  async listVirtualNetworks(): Promise<ContrailVirtualNetwork[]> {
    const items = await this.#get('/virtual-networks?detail=true', detailList('virtual-networks', 'virtual-network', virtualNetwork));
    return items.map(toVirtualNetwork);
  }

  async listVirtualRouters(): Promise<ContrailVirtualRouter[]> {
    const items = await this.#get('/virtual-routers?detail=true', detailList('virtual-routers', 'virtual-router', virtualRouter));
    return items.map(toVirtualRouter);
  }

  async listBgpRouters(): Promise<ContrailBgpRouter[]> {
    const items = await this.#get('/bgp-routers?detail=true', detailList('bgp-routers', 'bgp-router', bgpRouter));
    return items.map((b) => {
      const p = b.bgp_router_parameters;
      return {
        uuid: b.uuid,
        name: lastName(b.fq_name),
        fqName: b.fq_name,
        vendor: p?.vendor,
        routerType: p?.router_type,
        autonomousSystem: p?.autonomous_system,
        address: p?.address,
        identifier: p?.identifier,
        port: p?.port,
        holdTime: p?.hold_time,
        addressFamilies: p?.address_families?.family ?? [],
        peers: (b.bgp_router_refs ?? []).map((r) => lastName(r.to)),
      };
    });
  }

  async listProjects(): Promise<ContrailProject[]> {
    const list = await this.#get('/projects', object({ projects: arrayOf(listItem) }));
    return list.projects.map((p) => ({ uuid: p.uuid, name: lastName(p.fq_name), fqName: p.fq_name }));
  }

  /** Creates a project under `default-domain`; a 409 when one of that name exists. */
  async createProject(input: CreateProjectInput): Promise<ContrailProject> {
    const fqName = ['default-domain', input.name];
    const created = await this.#create('project', {
      fq_name: fqName,
      parent_type: 'domain',
      ...(input.uuid ? { uuid: input.uuid } : {}),
      ...(input.displayName ? { display_name: input.displayName } : {}),
    });
    return { uuid: created.uuid, name: input.name, fqName };
  }

  /** Deletes a project; Contrail refuses (409) while networks or IPAMs are still in it. */
  async deleteProject(uuid: string): Promise<void> {
    await this.#delete('project', uuid);
  }

  /** Creates a network IPAM (an address space; its subnets are set on the networks that use it). */
  async createNetworkIpam(fqName: string[]): Promise<ContrailRef> {
    const created = await this.#create('network-ipam', {
      fq_name: fqName,
      parent_type: 'project',
      ipam_subnet_method: 'user-defined-subnet',
    });
    return { to: fqName, uuid: created.uuid };
  }

  /** Deletes a network IPAM; Contrail refuses (409) while a network or vRouter refers to it. */
  async deleteNetworkIpam(uuid: string): Promise<void> {
    await this.#delete('network-ipam', uuid);
  }

  /** Creates a virtual network in its project, with its route targets and its IPAM subnet. */
  async createVirtualNetwork(input: CreateVirtualNetworkInput): Promise<ContrailVirtualNetwork> {
    const { ipam } = input;
    const created = await this.#create('virtual-network', {
      fq_name: input.fqName,
      parent_type: 'project',
      ...(input.displayName ? { display_name: input.displayName } : {}),
      route_target_list: { route_target: input.routeTargets },
      ...(ipam
        ? {
            network_ipam_refs: [
              {
                to: ipam.ref.to,
                uuid: ipam.ref.uuid,
                attr: { ipam_subnets: [{ subnet: { ip_prefix: ipam.subnet.prefix, ip_prefix_len: ipam.subnet.length } }] },
              },
            ],
          }
        : {}),
    });
    return {
      uuid: created.uuid,
      name: lastName(input.fqName),
      fqName: input.fqName,
      project: input.fqName[1] ?? '',
      routeTargets: input.routeTargets,
      subnets: ipam ? [`${ipam.subnet.prefix}/${ipam.subnet.length}`] : [],
      networkIpamRefs: ipam ? [ipam.ref] : [],
    };
  }

  async deleteVirtualNetwork(uuid: string): Promise<void> {
    await this.#delete('virtual-network', uuid);
  }

  /** The vRouter whose host name is `name`, or undefined. */
  async findVirtualRouter(name: string): Promise<ContrailVirtualRouter | undefined> {
    const list = await this.#get('/virtual-routers', object({ 'virtual-routers': arrayOf(listItem) }));
    const item = list['virtual-routers'].find((r) => lastName(r.fq_name) === name);
    if (!item) return undefined;
    const body = await this.#get(`/virtual-router/${encodeURIComponent(item.uuid)}`, object({ 'virtual-router': virtualRouter }));
    return toVirtualRouter(body['virtual-router']);
  }

  /** Creates a vRouter under the global system config, serving the IPAMs of `virtualNetworkFqName`. */
  async createVirtualRouter(input: CreateVirtualRouterInput): Promise<ContrailVirtualRouter> {
    let networkIpamRefs: ContrailRef[] = [];
    if (input.virtualNetworkFqName) {
      const wanted = input.virtualNetworkFqName.join(':');
      const network = (await this.listVirtualNetworks()).find((n) => n.fqName.join(':') === wanted);
      if (!network) throw new Error(`Contrail: virtual network ${wanted} does not exist`);
      networkIpamRefs = network.networkIpamRefs;
    }
    const created = await this.#send(
      'POST',
      '/virtual-routers',
      {
        'virtual-router': {
          fq_name: ['default-global-system-config', input.name],
          parent_type: 'global-system-config',
          ...(input.ip ? { virtual_router_ip_address: input.ip } : {}),
          ...(networkIpamRefs.length
            ? { network_ipam_refs: networkIpamRefs.map((r) => ({ to: r.to, uuid: r.uuid, attr: { allocation_pools: [], subnet: [] } })) }
            : {}),
        },
      },
      object({ 'virtual-router': object({ uuid: string }) }),
    );
    return {
      uuid: created['virtual-router'].uuid,
      name: input.name,
      fqName: ['default-global-system-config', input.name],
      ipAddress: input.ip,
      networkIpamRefs,
    };
  }

  async deleteVirtualRouter(uuid: string): Promise<void> {
    await this.#send('DELETE', `/virtual-router/${encodeURIComponent(uuid)}`, undefined, () => undefined);
  }

  async listVirtualMachineInterfaces(): Promise<ContrailVirtualMachineInterface[]> {
    const items = await this.#get(
      '/virtual-machine-interfaces?detail=true',
      detailList('virtual-machine-interfaces', 'virtual-machine-interface', virtualMachineInterface),
    );
    return items.map(toVirtualMachineInterface);
  }

  /** The interface of that fq_name, or undefined. */
  async findVirtualMachineInterface(fqName: readonly string[]): Promise<ContrailVirtualMachineInterface | undefined> {
    const wanted = fqName.join(':');
    const list = await this.#get('/virtual-machine-interfaces', object({ 'virtual-machine-interfaces': arrayOf(listItem) }));
    const item = list['virtual-machine-interfaces'].find((i) => i.fq_name.join(':') === wanted);
    return item && this.readVirtualMachineInterface(item.uuid);
  }

  async readVirtualMachineInterface(uuid: string): Promise<ContrailVirtualMachineInterface> {
    const body = await this.#get(
      `/virtual-machine-interface/${encodeURIComponent(uuid)}`,
      object({ 'virtual-machine-interface': virtualMachineInterface }),
    );
    return toVirtualMachineInterface(body['virtual-machine-interface']);
  }

  /**
   * Creates an interface in its project on `virtualNetworkFqName`, bound to the vRouter of
   * `hostId`; Contrail picks its MAC address (read it back with `readVirtualMachineInterface`).
   */
  async createVirtualMachineInterface(input: CreateVirtualMachineInterfaceInput): Promise<ContrailVirtualMachineInterface> {
    const wanted = input.virtualNetworkFqName.join(':');
    const network = (await this.listVirtualNetworks()).find((n) => n.fqName.join(':') === wanted);
    if (!network) throw new Error(`Contrail: virtual network ${wanted} does not exist`);
    const virtualNetworkRefs = [{ to: network.fqName, uuid: network.uuid }];
    const created = await this.#create('virtual-machine-interface', {
      fq_name: input.fqName,
      parent_type: 'project',
      virtual_network_refs: virtualNetworkRefs,
      virtual_machine_interface_bindings: { key_value_pair: [{ key: 'host_id', value: input.hostId }] },
    });
    return {
      uuid: created.uuid,
      name: lastName(input.fqName),
      fqName: input.fqName,
      project: input.fqName[1] ?? '',
      virtualNetworkRefs,
      macAddresses: [],
      hostId: input.hostId,
    };
  }

  async deleteVirtualMachineInterface(uuid: string): Promise<void> {
    await this.#delete('virtual-machine-interface', uuid);
  }

  /** `POST /<resource>s` with `{<resource>: properties}`; Contrail answers with the new object's uuid. */
  async #create(resource: string, properties: Record<string, unknown>): Promise<{ uuid: string }> {
    const created = await this.#send('POST', `/${resource}s`, { [resource]: properties }, object({ [resource]: object({ uuid: string }) }));
    return created[resource]!;
  }

  async #delete(resource: string, uuid: string): Promise<void> {
    await this.#send('DELETE', `/${resource}/${encodeURIComponent(uuid)}`, undefined, () => undefined);
  }

  #get<T>(path: string, check: Check<T>): Promise<T> {
    return this.#send('GET', path, undefined, check);
  }

  async #send<T>(method: JsonRequest['method'], path: string, body: unknown, check: Check<T>): Promise<T> {
    const headers: Record<string, string> = {};
    if (this.#options.authToken) headers['X-Auth-Token'] = await this.#options.authToken();
    const request = {
      system: 'Contrail' as const,
      method,
      url: `${this.#url}${path}`,
      fetch: this.#options.fetch ?? globalThis.fetch,
      timeoutMs: this.#options.timeoutMs ?? 10_000,
    };
    const response = await requestJson({ ...request, headers, body });
    return validateBody(check, response.body, request);
  }
}

/** True when `error` is Contrail answering 409: the object (e.g. a vRouter of that name) exists. */
export function isContrailConflict(error: unknown): boolean {
  return error instanceof UpstreamError && error.system === 'Contrail' && error.status === 409;
}

function toVirtualNetwork(n: ReturnType<typeof virtualNetwork>): ContrailVirtualNetwork {
  const refs = n.network_ipam_refs ?? [];
  return {
    uuid: n.uuid,
    name: lastName(n.fq_name),
    fqName: n.fq_name,
    project: n.fq_name[1] ?? '',
    routeTargets: n.route_target_list?.route_target ?? [],
    subnets: refs
      .flatMap((r) => r.attr?.ipam_subnets ?? [])
      .flatMap((s) => (s.subnet ? [`${s.subnet.ip_prefix}/${s.subnet.ip_prefix_len}`] : [])),
    networkIpamRefs: refs.map((r) => ({ to: r.to, uuid: r.uuid })),
  };
}

function toVirtualRouter(r: ReturnType<typeof virtualRouter>): ContrailVirtualRouter {
  return {
    uuid: r.uuid,
    name: lastName(r.fq_name),
    fqName: r.fq_name,
    ipAddress: r.virtual_router_ip_address,
    networkIpamRefs: (r.network_ipam_refs ?? []).map((x) => ({ to: x.to, uuid: x.uuid })),
  };
}

function toVirtualMachineInterface(i: ReturnType<typeof virtualMachineInterface>): ContrailVirtualMachineInterface {
  return {
    uuid: i.uuid,
    name: lastName(i.fq_name),
    fqName: i.fq_name,
    project: i.fq_name[1] ?? '',
    virtualNetworkRefs: (i.virtual_network_refs ?? []).map((r) => ({ to: r.to, uuid: r.uuid })),
    macAddresses: i.virtual_machine_interface_mac_addresses?.mac_address ?? [],
    hostId: i.virtual_machine_interface_bindings?.key_value_pair?.find((pair) => pair.key === 'host_id')?.value,
  };
}

function lastName(fqName: string[]): string {
  return fqName[fqName.length - 1] ?? '';
}
