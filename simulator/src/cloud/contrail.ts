import type { IncomingMessage, ServerResponse } from 'node:http';
import { isRecord, readJson, sendJson, sendText } from './http.ts';
import type { ContrailObject, JsonObject } from './model.ts';
import { virtualRouter } from './seed.ts';
import { newUid, type CloudState } from './state.ts';

type Collection = 'virtual-networks' | 'virtual-routers' | 'bgp-routers' | 'network-ipams';
const resourceOf: Record<Collection, string> = {
  'virtual-networks': 'virtual-network',
  'virtual-routers': 'virtual-router',
  'bgp-routers': 'bgp-router',
  'network-ipams': 'network-ipam',
};

/**
 * The Contrail config API (port 8082): read access to networks, IPAMs and BGP routers; full
 * create/update/delete of virtual routers. Errors are plain text, as the real API server's are.
 */
export function contrailHandler(state: CloudState, baseUrl: () => string) {
  const collections: Record<Collection, () => ContrailObject[]> = {
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
        const items = collections[collection]().map((o) => (detail ? { [resource]: view(resource, o) } : { href: href(resource, o.uuid), fq_name: o.fq_name, uuid: o.uuid }));
        return sendJson(res, 200, { [collection]: items });
      }
      if (method === 'POST' && collection === 'virtual-routers') return createVirtualRouter(req, res);
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
    if (!Array.isArray(fqName) || fqName.length !== 2 || fqName[0] !== 'default-global-system-config' || typeof fqName[1] !== 'string' || !fqName[1]) {
      return sendText(res, 400, 'Bad Request: fq_name must be ["default-global-system-config", <hostname>]');
    }
    const properties = routerProperties(input);
    if (typeof properties === 'string') return sendText(res, properties.startsWith('Reference') ? 404 : 400, properties);
    const router = virtualRouter(fqName[1], properties.ip, properties.ipamRefs ?? [], newUid());
    const result = state.addVirtualRouter(router);
    if (!result.ok) return sendText(res, 409, `Conflict: ${result.message}`);
    sendJson(res, 200, { 'virtual-router': { fq_name: router.fq_name, uuid: router.uuid, href: href('virtual-router', router.uuid), parent_type: router.parent_type, name: router.name } });
  }

  async function updateVirtualRouter(req: IncomingMessage, res: ServerResponse, router: ContrailObject): Promise<void> {
    const body = await readJson(req);
    if (!body.ok) return sendText(res, 400, body.error);
    const input = isRecord(body.value) ? body.value['virtual-router'] : undefined;
    if (!isRecord(input)) return sendText(res, 400, 'Bad Request: expected {"virtual-router": {...}}');
    if (input['fq_name'] !== undefined && JSON.stringify(input['fq_name']) !== JSON.stringify(router.fq_name)) return sendText(res, 400, 'Bad Request: fq_name cannot be changed');
    const properties = routerProperties(input);
    if (typeof properties === 'string') return sendText(res, properties.startsWith('Reference') ? 404 : 400, properties);
    if (properties.ip !== undefined) router['virtual_router_ip_address'] = properties.ip;
    if (properties.ipamRefs !== undefined) router['network_ipam_refs'] = properties.ipamRefs;
    sendJson(res, 200, { 'virtual-router': { uuid: router.uuid, href: href('virtual-router', router.uuid) } });
  }

  /** The writable properties of a virtual-router, checked; a string is the error to answer. */
  function routerProperties(input: Record<string, unknown>): { ip?: string; ipamRefs?: JsonObject[] } | string {
    const ip = input['virtual_router_ip_address'];
    if (ip !== undefined && (typeof ip !== 'string' || !/^\d{1,3}(\.\d{1,3}){3}$/.test(ip))) return 'Bad Request: virtual_router_ip_address must be an IPv4 address';
    const refs = input['network_ipam_refs'];
    if (refs === undefined) return { ip };
    if (!Array.isArray(refs)) return 'Bad Request: network_ipam_refs must be a list';
    const ipamRefs: JsonObject[] = [];
    for (const ref of refs) {
      if (!isRecord(ref)) return 'Bad Request: each reference must be an object';
      const ipam = state.networkIpams.find((i) => i.uuid === ref['uuid'] || (Array.isArray(ref['to']) && ref['to'].join(':') === i.fq_name.join(':')));
      if (!ipam) return `Reference not found: network-ipam ${JSON.stringify(ref['uuid'] ?? ref['to'])}`;
      ipamRefs.push({ to: ipam.fq_name, uuid: ipam.uuid, attr: { allocation_pools: [], subnet: [] } });
    }
    return { ip, ipamRefs };
  }
}
