import type { IncomingMessage, ServerResponse } from 'node:http';
import { isRecord, readJson, sendJson, sendText } from './http.ts';
import type { ContrailObject, JsonObject } from './model.ts';
import { virtualRouter } from './seed.ts';
import { newUid, type CloudState } from './state.ts';

type Collection = 'projects' | 'virtual-networks' | 'virtual-routers' | 'bgp-routers' | 'network-ipams';
const resourceOf: Record<Collection, string> = {
  projects: 'project',
  'virtual-networks': 'virtual-network',
  'virtual-routers': 'virtual-router',
  'bgp-routers': 'bgp-router',
  'network-ipams': 'network-ipam',
};
/** What onboarding a tenant creates and takes back: projects, IPAMs and virtual networks. */
type ConfigCollection = 'projects' | 'network-ipams' | 'virtual-networks';
const configCollections: readonly Collection[] = ['projects', 'network-ipams', 'virtual-networks'];

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const ROUTE_TARGET = /^target:\d+:\d+$/;

/**
 * The Contrail config API (port 8082): read access to BGP routers; create, read and delete of
 * projects, network IPAMs and virtual networks; full create/update/delete of virtual routers.
 * Errors are plain text, as the real API server's are.
 */
export function contrailHandler(state: CloudState, baseUrl: () => string) {
  const collections: Record<Collection, () => ContrailObject[]> = {
    projects: () => state.contrailProjects,
    'virtual-networks': () => state.virtualNetworks,
    'virtual-routers': () => [...state.virtualRouters.values()],
    'bgp-routers': () => state.bgpRouters,
    'network-ipams': () => state.networkIpams,
  };
  const href = (resource: string, uuid: string) => `${baseUrl()}/${resource}/${uuid}`;
  const view = (resource: string, object: ContrailObject): JsonObject => ({ ...object, href: href(resource, object.uuid) });

  return async (req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> => {
    const method = req.method ?? 'GET';
    const [, first = '', second, ...extra] = url.pathname.split('/');
    if (extra.length) return sendText(res, 404, `Not Found: ${url.pathname}`);

    if (first in collections && second === undefined) {
      const collection = first as Collection;
      const resource = resourceOf[collection];
      if (method === 'GET') {
        const detail = url.searchParams.get('detail') === 'true';
        const items = collections[collection]().map((o) =>
          detail ? { [resource]: view(resource, o) } : { href: href(resource, o.uuid), fq_name: o.fq_name, uuid: o.uuid },
        );
        return sendJson(res, 200, { [collection]: items });
      }
      if (method === 'POST' && collection === 'virtual-routers') return createVirtualRouter(req, res);
      if (method === 'POST' && configCollections.includes(collection)) return createConfigObject(req, res, collection as ConfigCollection);
      return sendText(res, 405, `Method ${method} not allowed on /${collection}`);
    }

    const collection = (Object.keys(resourceOf) as Collection[]).find((c) => resourceOf[c] === first);
    if (collection && second) {
      const object = collections[collection]().find((o) => o.uuid === second);
      if (!object) return sendText(res, 404, `ID ${second} not found`);
      if (method === 'GET') return sendJson(res, 200, { [first]: view(first, object) });
      if (collection === 'virtual-routers' && method === 'DELETE') {
        state.virtualRouters.delete(object.uuid);
        return sendJson(res, 200, {});
      }
      if (collection === 'virtual-routers' && method === 'PUT') return updateVirtualRouter(req, res, object);
      if (configCollections.includes(collection) && method === 'DELETE') {
        const result = state.deleteConfigObject(collections[collection](), object.uuid);
        return result.ok ? sendJson(res, 200, {}) : sendText(res, 409, `Conflict: ${result.message}`);
      }
      return sendText(res, 405, `Method ${method} not allowed on /${first}/${second}`);
    }
    return sendText(res, 404, `Not Found: ${url.pathname}`);
  };

  async function createVirtualRouter(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const body = await readJson(req);
    if (!body.ok) return sendText(res, 400, body.error);
    const input = isRecord(body.value) ? body.value['virtual-router'] : undefined;
    if (!isRecord(input)) return sendText(res, 400, 'Bad Request: expected {"virtual-router": {...}}');
    const fqName = input['fq_name'];
    if (
      !Array.isArray(fqName) ||
      fqName.length !== 2 ||
      fqName[0] !== 'default-global-system-config' ||
      typeof fqName[1] !== 'string' ||
      !fqName[1]
    ) {
      return sendText(res, 400, 'Bad Request: fq_name must be ["default-global-system-config", <hostname>]');
    }
    const properties = routerProperties(input);
    if (typeof properties === 'string') return sendText(res, properties.startsWith('Reference') ? 404 : 400, properties);
    const router = virtualRouter(fqName[1], properties.ip, properties.ipamRefs ?? [], newUid());
    const result = state.addVirtualRouter(router);
    if (!result.ok) return sendText(res, 409, `Conflict: ${result.message}`);
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

  /** POST of a project, network IPAM or virtual network: `{"<resource>": {fq_name, ...}}`. */
  async function createConfigObject(req: IncomingMessage, res: ServerResponse, collection: ConfigCollection): Promise<void> {
    const resource = resourceOf[collection];
    const body = await readJson(req);
    if (!body.ok) return sendText(res, 400, body.error);
    const input = isRecord(body.value) ? body.value[resource] : undefined;
    if (!isRecord(input)) return sendText(res, 400, `Bad Request: expected {"${resource}": {...}}`);
    const object = configObject(collection, input);
    if (typeof object === 'string') return sendText(res, object.startsWith('Reference') ? 404 : 400, object);
    const result = state.addConfigObject(collections[collection](), object);
    if (!result.ok)
      return sendText(
        res,
        result.reason === 'NotFound' ? 404 : 409,
        `${result.reason === 'NotFound' ? 'Not Found' : 'Conflict'}: ${result.message}`,
      );
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

  /** The object to store from a POST body, checked; a string is the error to answer. */
  function configObject(collection: ConfigCollection, input: Record<string, unknown>): ContrailObject | string {
    const fqName = input['fq_name'];
    const depth = collection === 'projects' ? 2 : 3;
    if (
      !Array.isArray(fqName) ||
      fqName.length !== depth ||
      fqName[0] !== 'default-domain' ||
      !fqName.every((part) => typeof part === 'string' && part)
    ) {
      return `Bad Request: fq_name must be ["default-domain", ${collection === 'projects' ? '<project>' : '<project>, <name>'}]`;
    }
    const uuid = input['uuid'] ?? newUid();
    if (typeof uuid !== 'string' || !UUID.test(uuid)) return 'Bad Request: uuid must be a UUID';
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
      return 'Bad Request: route_target_list.route_target must be a list of "target:<asn>:<number>"';
    const refs = input['network_ipam_refs'] ?? [];
    if (!Array.isArray(refs)) return 'Bad Request: network_ipam_refs must be a list';
    const ipamRefs: JsonObject[] = [];
    for (const ref of refs) {
      const ipam = referencedIpam(state, ref);
      if (typeof ipam === 'string') return ipam;
      const subnets = isRecord(ref['attr']) ? ref['attr']['ipam_subnets'] : [];
      if (!Array.isArray(subnets)) return 'Bad Request: attr.ipam_subnets must be a list';
      const checked: JsonObject[] = [];
      for (const item of subnets) {
        const subnet = isRecord(item) ? item['subnet'] : undefined;
        if (
          !isRecord(subnet) ||
          typeof subnet['ip_prefix'] !== 'string' ||
          !/^\d{1,3}(\.\d{1,3}){3}$/.test(subnet['ip_prefix']) ||
          typeof subnet['ip_prefix_len'] !== 'number'
        ) {
          return 'Bad Request: each ipam_subnets item needs subnet {ip_prefix, ip_prefix_len}';
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

  async function updateVirtualRouter(req: IncomingMessage, res: ServerResponse, router: ContrailObject): Promise<void> {
    const body = await readJson(req);
    if (!body.ok) return sendText(res, 400, body.error);
    const input = isRecord(body.value) ? body.value['virtual-router'] : undefined;
    if (!isRecord(input)) return sendText(res, 400, 'Bad Request: expected {"virtual-router": {...}}');
    if (input['fq_name'] !== undefined && JSON.stringify(input['fq_name']) !== JSON.stringify(router.fq_name))
      return sendText(res, 400, 'Bad Request: fq_name cannot be changed');
    const properties = routerProperties(input);
    if (typeof properties === 'string') return sendText(res, properties.startsWith('Reference') ? 404 : 400, properties);
    if (properties.ip !== undefined) router['virtual_router_ip_address'] = properties.ip;
    if (properties.ipamRefs !== undefined) router['network_ipam_refs'] = properties.ipamRefs;
    sendJson(res, 200, { 'virtual-router': { uuid: router.uuid, href: href('virtual-router', router.uuid) } });
  }

  /** The writable properties of a virtual-router, checked; a string is the error to answer. */
  function routerProperties(input: Record<string, unknown>): { ip?: string; ipamRefs?: JsonObject[] } | string {
    const ip = input['virtual_router_ip_address'];
    if (ip !== undefined && (typeof ip !== 'string' || !/^\d{1,3}(\.\d{1,3}){3}$/.test(ip)))
      return 'Bad Request: virtual_router_ip_address must be an IPv4 address';
    const refs = input['network_ipam_refs'];
    if (refs === undefined) return { ip };
    if (!Array.isArray(refs)) return 'Bad Request: network_ipam_refs must be a list';
    const ipamRefs: JsonObject[] = [];
    for (const ref of refs) {
      const ipam = referencedIpam(state, ref);
      if (typeof ipam === 'string') return ipam;
      ipamRefs.push({ to: ipam.fq_name, uuid: ipam.uuid, attr: { allocation_pools: [], subnet: [] } });
    }
    return { ip, ipamRefs };
  }
}

/** The network IPAM a reference names by `uuid` or `to` (its fq_name), or the error to answer. */
function referencedIpam(state: CloudState, ref: unknown) {
  if (!isRecord(ref)) return 'Bad Request: each reference must be an object';
  const ipam = state.networkIpams.find(
    (i) => i.uuid === ref['uuid'] || (Array.isArray(ref['to']) && ref['to'].join(':') === i.fq_name.join(':')),
  );
  return ipam ?? `Reference not found: network-ipam ${JSON.stringify(ref['uuid'] ?? ref['to'])}`;
}
