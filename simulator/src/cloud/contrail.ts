import { RouteTable } from '#kit';
import { BadRequest, HttpError, MethodNotAllowed, NotFound } from './errors.ts';
import { isRecord, readJson, routed, sendJson, sendText, type Answer, type Exchange, type Handler } from './http.ts';
import type { ContrailObject, JsonObject } from './model.ts';
import { interfaceMac, virtualRouter } from './seed.ts';
import { newUid, type CloudState } from './state.ts';

/** Each collection the API serves and the resource (type) of one of its objects. */
const resourceOf = {
  projects: 'project',
  'virtual-networks': 'virtual-network',
  'virtual-routers': 'virtual-router',
  'bgp-routers': 'bgp-router',
  'network-ipams': 'network-ipam',
  'virtual-machine-interfaces': 'virtual-machine-interface',
} as const;
type Collection = keyof typeof resourceOf;
const COLLECTIONS = Object.keys(resourceOf) as Collection[];
/** What onboarding a tenant creates and takes back: projects, IPAMs and virtual networks. */
const CONFIG_COLLECTIONS = ['projects', 'network-ipams', 'virtual-networks'] as const;
type ConfigCollection = (typeof CONFIG_COLLECTIONS)[number];

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const ROUTE_TARGET = /^target:\d+:\d+$/;
const MAC = /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/i;

/**
 * The Contrail config API (port 8082): read access to BGP routers; create, read and delete of
 * projects, network IPAMs, virtual networks and virtual machine interfaces; full
 * create/update/delete of virtual routers.
 * Errors are plain text, as the real API server's are.
 */
export function contrailHandler(state: CloudState, baseUrl: () => string): Handler {
  const collections: Record<Collection, () => ContrailObject[]> = {
    projects: () => state.contrailProjects,
    'virtual-networks': () => state.virtualNetworks,
    'virtual-routers': () => [...state.virtualRouters.values()],
    'bgp-routers': () => state.bgpRouters,
    'network-ipams': () => state.networkIpams,
    'virtual-machine-interfaces': () => state.virtualMachineInterfaces,
  };
  const href = (resource: string, uuid: string) => `${baseUrl()}/${resource}/${uuid}`;
  const view = (resource: string, object: ContrailObject): JsonObject => ({ ...object, href: href(resource, object.uuid) });

  const routes = new RouteTable<Exchange, Answer>();
  for (const collection of COLLECTIONS) {
    const resource = resourceOf[collection];
    routes
      .on('GET', `/${collection}`, ({ res, url }) => {
        const detail = url.searchParams.get('detail') === 'true';
        const items = collections[collection]().map((o) =>
          detail ? { [resource]: view(resource, o) } : { href: href(resource, o.uuid), fq_name: o.fq_name, uuid: o.uuid },
        );
        sendJson(res, 200, { [collection]: items });
      })
      .on('GET', `/${resource}/{uuid}`, ({ res }, { uuid }) =>
        sendJson(res, 200, { [resource]: view(resource, objectOf(collection, uuid)) }),
      );
  }
  routes
    .on('POST', '/virtual-routers', createVirtualRouter)
    .on('PUT', '/virtual-router/{uuid}', (exchange, { uuid }) => updateVirtualRouter(exchange, objectOf('virtual-routers', uuid)))
    .on('DELETE', '/virtual-router/{uuid}', ({ res }, { uuid }) => {
      state.virtualRouters.delete(objectOf('virtual-routers', uuid).uuid);
      sendJson(res, 200, {});
    });
  routes
    .on('POST', '/virtual-machine-interfaces', createVirtualMachineInterface)
    .on('DELETE', '/virtual-machine-interface/{uuid}', ({ res }, { uuid }) => {
      refused(() => state.deleteConfigObject(state.virtualMachineInterfaces, objectOf('virtual-machine-interfaces', uuid).uuid));
      sendJson(res, 200, {});
    });
  for (const collection of CONFIG_COLLECTIONS) {
    routes
      .on('POST', `/${collection}`, (exchange) => createConfigObject(exchange, collection))
      .on('DELETE', `/${resourceOf[collection]}/{uuid}`, ({ res }, { uuid }) => {
        const object = objectOf(collection, uuid);
        refused(() => state.deleteConfigObject(collections[collection](), object.uuid));
        sendJson(res, 200, {});
      });
  }
  // Any other method: 405, after the 404 of an object that does not exist.
  for (const collection of COLLECTIONS) {
    routes.on('*', `/${collection}`, notAllowed);
    routes.on('*', `/${resourceOf[collection]}/{uuid}`, (exchange, { uuid }) => {
      objectOf(collection, uuid);
      notAllowed(exchange);
    });
  }

  return routed({
    routes,
    unmatched: ({ url }) => {
      throw new NotFound(`Not Found: ${url.pathname}`);
    },
    tell: (res, error) => sendText(res, error.status, error.message),
  });

  function objectOf(collection: Collection, uuid: string): ContrailObject {
    const object = collections[collection]().find((o) => o.uuid === uuid);
    if (!object) throw new NotFound(`ID ${uuid} not found`);
    return object;
  }

  async function createVirtualRouter({ req, res }: Exchange): Promise<void> {
    const body = await readJson(req);
    const input = isRecord(body) ? body['virtual-router'] : undefined;
    if (!isRecord(input)) throw new BadRequest('Bad Request: expected {"virtual-router": {...}}');
    const fqName = input['fq_name'];
    if (
      !Array.isArray(fqName) ||
      fqName.length !== 2 ||
      fqName[0] !== 'default-global-system-config' ||
      typeof fqName[1] !== 'string' ||
      !fqName[1]
    ) {
      throw new BadRequest('Bad Request: fq_name must be ["default-global-system-config", <hostname>]');
    }
    const properties = routerProperties(input);
    const router = virtualRouter(fqName[1], properties.ip, properties.ipamRefs ?? [], newUid());
    refused(() => state.addVirtualRouter(router));
    sendJson(res, 200, {
      'virtual-router': {
        fq_name: router.fq_name,
        uuid: router.uuid,
        href: href('virtual-router', router.uuid),
        parent_type: router.parent_type,
        name: router.name,
      },
    });
  }

  /**
   * POST of a virtual machine interface: `fq_name` in an existing project, `virtual_network_refs`
   * to existing networks (by uuid or `to`), optional `host_id` binding; Contrail gives it a MAC
   * address when none is asked.
   */
  async function createVirtualMachineInterface({ req, res }: Exchange): Promise<void> {
    const body = await readJson(req);
    const input = isRecord(body) ? body['virtual-machine-interface'] : undefined;
    if (!isRecord(input)) throw new BadRequest('Bad Request: expected {"virtual-machine-interface": {...}}');
    const fqName = input['fq_name'];
    if (
      !Array.isArray(fqName) ||
      fqName.length !== 3 ||
      fqName[0] !== 'default-domain' ||
      !fqName.every((part) => typeof part === 'string' && part)
    ) {
      throw new BadRequest('Bad Request: fq_name must be ["default-domain", <project>, <name>]');
    }
    const refs = input['virtual_network_refs'];
    if (!Array.isArray(refs) || !refs.length) throw new BadRequest('Bad Request: virtual_network_refs must name a virtual network');
    const networkRefs = refs.map((ref): JsonObject => {
      const network = referencedNetwork(state, ref);
      return { to: network.fq_name, uuid: network.uuid, attr: null };
    });
    const bindings = input['virtual_machine_interface_bindings'] ?? { key_value_pair: [] };
    const pairs = isRecord(bindings) ? bindings['key_value_pair'] : undefined;
    if (!Array.isArray(pairs) || !pairs.every((p) => isRecord(p) && typeof p['key'] === 'string' && typeof p['value'] === 'string'))
      throw new BadRequest('Bad Request: virtual_machine_interface_bindings.key_value_pair must be a list of {key, value} strings');
    const macs = isRecord(input['virtual_machine_interface_mac_addresses'])
      ? input['virtual_machine_interface_mac_addresses']['mac_address']
      : undefined;
    if (macs !== undefined && (!Array.isArray(macs) || !macs.every((m) => typeof m === 'string' && MAC.test(m))))
      throw new BadRequest('Bad Request: virtual_machine_interface_mac_addresses.mac_address must be a list of MAC addresses');
    const uuid = newUid();
    const name = fqName[2] as string;
    const object: ContrailObject = {
      uuid,
      fq_name: fqName as string[],
      name,
      display_name: typeof input['display_name'] === 'string' ? input['display_name'] : name,
      parent_type: 'project',
      virtual_network_refs: networkRefs,
      virtual_machine_interface_mac_addresses: { mac_address: macs?.length ? (macs as string[]) : [interfaceMac(uuid)] },
      virtual_machine_interface_bindings: { key_value_pair: pairs.map((p) => ({ key: String(p['key']), value: String(p['value']) })) },
      ...(typeof input['virtual_machine_interface_device_owner'] === 'string'
        ? { virtual_machine_interface_device_owner: input['virtual_machine_interface_device_owner'] }
        : {}),
    };
    refused(() => state.addConfigObject(state.virtualMachineInterfaces, object));
    sendJson(res, 200, {
      'virtual-machine-interface': {
        fq_name: object.fq_name,
        uuid,
        href: href('virtual-machine-interface', uuid),
        parent_type: object.parent_type,
        parent_uuid: object['parent_uuid'] ?? null,
        name,
      },
    });
  }

  /** POST of a project, network IPAM or virtual network: `{"<resource>": {fq_name, ...}}`. */
  async function createConfigObject({ req, res }: Exchange, collection: ConfigCollection): Promise<void> {
    const resource = resourceOf[collection];
    const body = await readJson(req);
    const input = isRecord(body) ? body[resource] : undefined;
    if (!isRecord(input)) throw new BadRequest(`Bad Request: expected {"${resource}": {...}}`);
    const object = configObject(collection, input);
    refused(() => state.addConfigObject(collections[collection](), object));
    sendJson(res, 200, {
      [resource]: {
        fq_name: object.fq_name,
        uuid: object.uuid,
        href: href(resource, object.uuid),
        parent_type: object.parent_type,
        parent_uuid: object['parent_uuid'] ?? null,
        name: object.name,
      },
    });
  }

  /** The object to store from a POST body, checked (`BadRequest`, or `NotFound` for a missing IPAM). */
  function configObject(collection: ConfigCollection, input: Record<string, unknown>): ContrailObject {
    const fqName = input['fq_name'];
    const depth = collection === 'projects' ? 2 : 3;
    if (
      !Array.isArray(fqName) ||
      fqName.length !== depth ||
      fqName[0] !== 'default-domain' ||
      !fqName.every((part) => typeof part === 'string' && part)
    ) {
      throw new BadRequest(
        `Bad Request: fq_name must be ["default-domain", ${collection === 'projects' ? '<project>' : '<project>, <name>'}]`,
      );
    }
    const uuid = input['uuid'] ?? newUid();
    if (typeof uuid !== 'string' || !UUID.test(uuid)) throw new BadRequest('Bad Request: uuid must be a UUID');
    const name = fqName[depth - 1] as string;
    const displayName = typeof input['display_name'] === 'string' ? input['display_name'] : name;
    const base = {
      uuid,
      fq_name: fqName as string[],
      name,
      display_name: displayName,
      parent_type: collection === 'projects' ? 'domain' : 'project',
    };
    if (collection === 'projects') return base;
    if (collection === 'network-ipams')
      return {
        ...base,
        ipam_subnet_method: typeof input['ipam_subnet_method'] === 'string' ? input['ipam_subnet_method'] : 'user-defined-subnet',
      };
    const targets = isRecord(input['route_target_list']) ? input['route_target_list']['route_target'] : [];
    if (!Array.isArray(targets) || !targets.every((t) => typeof t === 'string' && ROUTE_TARGET.test(t)))
      throw new BadRequest('Bad Request: route_target_list.route_target must be a list of "target:<asn>:<number>"');
    const refs = input['network_ipam_refs'] ?? [];
    if (!Array.isArray(refs)) throw new BadRequest('Bad Request: network_ipam_refs must be a list');
    const ipamRefs: JsonObject[] = [];
    for (const ref of refs) {
      const ipam = referencedIpam(state, ref);
      const subnets = isRecord(ref['attr']) ? ref['attr']['ipam_subnets'] : [];
      if (!Array.isArray(subnets)) throw new BadRequest('Bad Request: attr.ipam_subnets must be a list');
      const checked: JsonObject[] = [];
      for (const item of subnets) {
        const subnet = isRecord(item) ? item['subnet'] : undefined;
        if (
          !isRecord(subnet) ||
          typeof subnet['ip_prefix'] !== 'string' ||
          !/^\d{1,3}(\.\d{1,3}){3}$/.test(subnet['ip_prefix']) ||
          typeof subnet['ip_prefix_len'] !== 'number'
        ) {
          throw new BadRequest('Bad Request: each ipam_subnets item needs subnet {ip_prefix, ip_prefix_len}');
        }
        const prefix = subnet['ip_prefix'];
        checked.push({
          subnet: { ip_prefix: prefix, ip_prefix_len: subnet['ip_prefix_len'] },
          default_gateway: prefix.replace(/\.0$/, '.1'),
          subnet_uuid: newUid(),
          enable_dhcp: true,
        });
      }
      ipamRefs.push({ to: ipam.fq_name, uuid: ipam.uuid, attr: { ipam_subnets: checked } });
    }
    return {
      ...base,
      network_ipam_refs: ipamRefs,
      route_target_list: { route_target: targets as string[] },
      virtual_network_properties: { forwarding_mode: 'l2_l3', vxlan_network_identifier: null },
      virtual_network_network_id: 5 + state.virtualNetworks.length,
      is_shared: false,
      router_external: false,
    };
  }

  async function updateVirtualRouter({ req, res }: Exchange, router: ContrailObject): Promise<void> {
    const body = await readJson(req);
    const input = isRecord(body) ? body['virtual-router'] : undefined;
    if (!isRecord(input)) throw new BadRequest('Bad Request: expected {"virtual-router": {...}}');
    if (input['fq_name'] !== undefined && JSON.stringify(input['fq_name']) !== JSON.stringify(router.fq_name))
      throw new BadRequest('Bad Request: fq_name cannot be changed');
    const properties = routerProperties(input);
    if (properties.ip !== undefined) router['virtual_router_ip_address'] = properties.ip;
    if (properties.ipamRefs !== undefined) router['network_ipam_refs'] = properties.ipamRefs;
    sendJson(res, 200, { 'virtual-router': { uuid: router.uuid, href: href('virtual-router', router.uuid) } });
  }

  /** The writable properties of a virtual-router, checked (`BadRequest`, or `NotFound` for a missing IPAM). */
  function routerProperties(input: Record<string, unknown>): { ip?: string; ipamRefs?: JsonObject[] } {
    const ip = input['virtual_router_ip_address'];
    if (ip !== undefined && (typeof ip !== 'string' || !/^\d{1,3}(\.\d{1,3}){3}$/.test(ip)))
      throw new BadRequest('Bad Request: virtual_router_ip_address must be an IPv4 address');
    const refs = input['network_ipam_refs'];
    if (refs === undefined) return { ip };
    if (!Array.isArray(refs)) throw new BadRequest('Bad Request: network_ipam_refs must be a list');
    const ipamRefs: JsonObject[] = [];
    for (const ref of refs) {
      const ipam = referencedIpam(state, ref);
      ipamRefs.push({ to: ipam.fq_name, uuid: ipam.uuid, attr: { allocation_pools: [], subnet: [] } });
    }
    return { ip, ipamRefs };
  }
}

/** The network IPAM a reference names by `uuid` or `to` (its fq_name); `NotFound` when there is none. */
function referencedIpam(state: CloudState, ref: unknown): ContrailObject {
  if (!isRecord(ref)) throw new BadRequest('Bad Request: each reference must be an object');
  const ipam = state.networkIpams.find(
    (i) => i.uuid === ref['uuid'] || (Array.isArray(ref['to']) && ref['to'].join(':') === i.fq_name.join(':')),
  );
  if (!ipam) throw new NotFound(`Reference not found: network-ipam ${JSON.stringify(ref['uuid'] ?? ref['to'])}`);
  return ipam;
}

/** The virtual network a reference names by `uuid` or `to` (its fq_name); `NotFound` when there is none. */
function referencedNetwork(state: CloudState, ref: unknown): ContrailObject {
  if (!isRecord(ref)) throw new BadRequest('Bad Request: each reference must be an object');
  const network = state.virtualNetworks.find(
    (n) => n.uuid === ref['uuid'] || (Array.isArray(ref['to']) && ref['to'].join(':') === n.fq_name.join(':')),
  );
  if (!network) throw new NotFound(`Reference not found: virtual-network ${JSON.stringify(ref['uuid'] ?? ref['to'])}`);
  return network;
}

/** Runs a change of the state; its refusal is worded as the API server words it: `Conflict: ...`, `Not Found: ...`. */
function refused<T>(change: () => T): T {
  try {
    return change();
  } catch (error) {
    throw error instanceof HttpError ? error.with({ message: `${error.title}: ${error.message}` }) : error;
  }
}

function notAllowed({ req, url }: Exchange): never {
  throw new MethodNotAllowed(`Method ${req.method ?? 'GET'} not allowed on ${url.pathname}`);
}
