import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { isRecord, readJson, sendJson } from './http.ts';
import { keystoneId, type KeystoneProject } from './model.ts';
import type { CloudState } from './state.ts';

/** Path prefixes of the devstack-like layout: one server, services under their own prefix. */
export const OPENSTACK_PREFIX = { identity: '/identity', compute: '/compute/v2.1', network: '/network' } as const;

const unauthorized = { error: { code: 401, title: 'Unauthorized', message: 'The request you have made requires authentication.' } };

/**
 * Keystone v3, Nova v2.1 and Neutron v2.0 as devstack serves them. `baseUrl()` gives the server's
 * own URL, which Keystone's catalog points at.
 */
export function openStackHandler(state: CloudState, baseUrl: () => string) {
  return async (req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> => {
    const path = url.pathname.replace(/\/+$/, '');
    const method = req.method ?? 'GET';

    if (path.startsWith(`${OPENSTACK_PREFIX.identity}/v3`)) {
      const rest = path.slice(`${OPENSTACK_PREFIX.identity}/v3`.length);
      if (rest === '' && method === 'GET') {
        return sendJson(res, 200, {
          version: {
            id: 'v3.14',
            status: 'stable',
            updated: '2020-04-07T00:00:00Z',
            links: [{ rel: 'self', href: `${baseUrl()}${OPENSTACK_PREFIX.identity}/v3/` }],
          },
        });
      }
      if (rest === '/auth/tokens' && method === 'POST') return issueToken(req, res);
      if (!state.checkToken(header(req, 'x-auth-token'))) return sendJson(res, 401, unauthorized);
      if (rest === '/projects' && method === 'GET')
        return sendJson(res, 200, { projects: state.projects, links: { self: `${baseUrl()}${path}`, next: null, previous: null } });
      if (rest === '/projects' && method === 'POST') return createProject(req, res);
      const projectId = /^\/projects\/([^/]+)$/.exec(rest)?.[1];
      if (projectId && method === 'DELETE') {
        const result = state.deleteProject(decodeURIComponent(projectId));
        if (!result.ok) return sendJson(res, 404, { error: { code: 404, title: 'Not Found', message: result.message } });
        res.writeHead(204);
        return void res.end();
      }
      return sendJson(res, 404, { error: { code: 404, title: 'Not Found', message: `The resource could not be found.` } });
    }

    if (path.startsWith(OPENSTACK_PREFIX.compute)) {
      if (!state.checkToken(header(req, 'x-auth-token'))) return sendJson(res, 401, unauthorized);
      const rest = path.slice(OPENSTACK_PREFIX.compute.length);
      const version = novaVersion(req);
      const headers = {
        'x-openstack-nova-api-version': version,
        'openstack-api-version': `compute ${version}`,
        vary: 'OpenStack-API-Version, X-OpenStack-Nova-API-Version',
      };
      if (method === 'GET' && rest === '/servers/detail')
        return sendJson(res, 200, { servers: state.servers.map((s) => serverView(s, version)) }, headers);
      if (method === 'GET' && rest === '/servers') {
        return sendJson(res, 200, { servers: state.servers.map((s) => ({ id: s.id, name: s.name, links: [] })) }, headers);
      }
      if (method === 'GET' && rest === '/os-hypervisors/detail')
        return sendJson(res, 200, { hypervisors: hypervisorsView(state, version) }, headers);
      return sendJson(res, 404, { itemNotFound: { code: 404, message: `The resource could not be found.` } }, headers);
    }

    if (path.startsWith(OPENSTACK_PREFIX.network)) {
      if (!state.checkToken(header(req, 'x-auth-token'))) return sendJson(res, 401, unauthorized);
      const rest = path.slice(OPENSTACK_PREFIX.network.length);
      if (method === 'GET' && rest === '/v2.0/networks') {
        const name = url.searchParams.get('name');
        return sendJson(res, 200, { networks: state.networks.filter((n) => name === null || n.name === name) });
      }
      return sendJson(res, 404, { NeutronError: { type: 'HTTPNotFound', message: `The resource could not be found.`, detail: '' } });
    }

    return sendJson(res, 404, { error: { code: 404, title: 'Not Found', message: `No OpenStack service at ${path}` } });
  };

  /** Keystone `POST /v3/projects`: `{"project": {name, domain_id?, description?, enabled?}}`, 201 with the project. */
  async function createProject(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const bad = (message: string) => sendJson(res, 400, { error: { code: 400, title: 'Bad Request', message } });
    const body = await readJson(req);
    if (!body.ok) return bad(body.error);
    const input = isRecord(body.value) ? body.value['project'] : undefined;
    if (!isRecord(input)) return bad('Expecting to find project in request body.');
    const name = input['name'];
    if (typeof name !== 'string' || !name || name.length > 64)
      return bad("Invalid input for field 'name': a name of 1-64 characters is required.");
    // Without domain_id, the domain of the token's scope: the simulated data center has one.
    const domainId = input['domain_id'] ?? 'default';
    if (domainId !== 'default')
      return sendJson(res, 404, { error: { code: 404, title: 'Not Found', message: `Could not find domain: ${String(domainId)}.` } });
    const description = input['description'];
    const enabled = input['enabled'];
    const project: KeystoneProject = {
      id: randomUUID().replaceAll('-', ''),
      name,
      domain_id: domainId,
      description: typeof description === 'string' ? description : '',
      enabled: typeof enabled === 'boolean' ? enabled : true,
      is_domain: false,
      parent_id: domainId,
    };
    const result = state.addProject(project);
    if (!result.ok) return sendJson(res, 409, { error: { code: 409, title: 'Conflict', message: result.message } });
    sendJson(res, 201, {
      project: { ...project, tags: [], options: {}, links: { self: `${baseUrl()}${OPENSTACK_PREFIX.identity}/v3/projects/${project.id}` } },
    });
  }

  async function issueToken(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const body = await readJson(req);
    if (!body.ok) return sendJson(res, 400, { error: { code: 400, title: 'Bad Request', message: body.error } });
    const login = parseLogin(body.value);
    if (typeof login === 'string') return sendJson(res, 400, { error: { code: 400, title: 'Bad Request', message: login } });
    const c = state.credentials;
    const project = state.projects.find((p) => (login.projectId ? p.id === login.projectId : p.name === login.projectName));
    const domainOk = (d: { name?: string; id?: string }) => (d.id ? d.id === 'default' : d.name === c.domainName);
    if (
      login.username !== c.username ||
      login.password !== c.password ||
      !domainOk(login.userDomain) ||
      !project ||
      (login.projectDomain && !domainOk(login.projectDomain))
    ) {
      return sendJson(res, 401, unauthorized);
    }
    const { token, expiresAt, issuedAt } = state.issueToken(project.id);
    const endpoint = (type: string, name: string, url: string) => ({
      id: keystoneId('service', type),
      type,
      name,
      endpoints: ['public', 'internal', 'admin'].map((iface) => ({
        id: keystoneId('endpoint', type, iface),
        interface: iface,
        region_id: 'RegionOne',
        region: 'RegionOne',
        url,
      })),
    });
    sendJson(
      res,
      201,
      {
        token: {
          methods: ['password'],
          user: {
            domain: { id: 'default', name: c.domainName },
            id: keystoneId('user', c.username),
            name: c.username,
            password_expires_at: null,
          },
          audit_ids: [token.slice(-22)],
          expires_at: expiresAt.toISOString(),
          issued_at: issuedAt.toISOString(),
          project: { domain: { id: 'default', name: c.domainName }, id: project.id, name: project.name },
          is_domain: false,
          roles: [
            { id: keystoneId('role', 'admin'), name: 'admin' },
            { id: keystoneId('role', 'member'), name: 'member' },
            { id: keystoneId('role', 'reader'), name: 'reader' },
          ],
          catalog: [
            endpoint('identity', 'keystone', `${baseUrl()}${OPENSTACK_PREFIX.identity}`),
            endpoint('compute', 'nova', `${baseUrl()}${OPENSTACK_PREFIX.compute}`),
            endpoint('network', 'neutron', `${baseUrl()}${OPENSTACK_PREFIX.network}`),
          ],
        },
      },
      { 'x-subject-token': token },
    );
  }
}

interface Login {
  username: string;
  password: string;
  userDomain: { name?: string; id?: string };
  projectName?: string;
  projectId?: string;
  projectDomain?: { name?: string; id?: string };
}

// Keystone's own wording for a malformed request: "Expecting to find X in Y".
function parseLogin(body: unknown): Login | string {
  const auth = isRecord(body) ? body['auth'] : undefined;
  if (!isRecord(auth))
    return 'Expecting to find auth in request body. The server could not comply with the request since it is either malformed or otherwise incorrect.';
  const identity = auth['identity'];
  if (!isRecord(identity) || !Array.isArray(identity['methods']) || !identity['methods'].includes('password'))
    return 'Expecting to find identity.methods ["password"] in auth.';
  const password = identity['password'];
  const user = isRecord(password) ? password['user'] : undefined;
  if (!isRecord(user) || typeof user['name'] !== 'string' || typeof user['password'] !== 'string')
    return 'Expecting to find password.user.name and password.user.password in identity.';
  const userDomain = domainOf(user['domain']);
  if (!userDomain) return 'Expecting to find domain in user.';
  const scope = auth['scope'];
  const project = isRecord(scope) ? scope['project'] : undefined;
  if (!isRecord(project) || (typeof project['name'] !== 'string' && typeof project['id'] !== 'string'))
    return 'Expecting to find scope.project with a name or an id (only project-scoped tokens are supported).';
  return {
    username: user['name'],
    password: user['password'],
    userDomain,
    projectName: typeof project['name'] === 'string' ? project['name'] : undefined,
    projectId: typeof project['id'] === 'string' ? project['id'] : undefined,
    projectDomain: domainOf(project['domain']),
  };
}

function domainOf(value: unknown): { name?: string; id?: string } | undefined {
  if (!isRecord(value)) return undefined;
  const name = typeof value['name'] === 'string' ? value['name'] : undefined;
  const id = typeof value['id'] === 'string' ? value['id'] : undefined;
  return name || id ? { name, id } : undefined;
}

function header(req: IncomingMessage, name: string): string | undefined {
  const value = req.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

/** The requested Nova microversion (`X-OpenStack-Nova-API-Version` or `OpenStack-API-Version: compute X`). */
function novaVersion(req: IncomingMessage): string {
  const legacy = header(req, 'x-openstack-nova-api-version');
  const modern = /compute\s+([\d.]+|latest)/i.exec(header(req, 'openstack-api-version') ?? '')?.[1];
  const requested = legacy ?? modern ?? '2.1';
  return requested === 'latest' ? '2.96' : requested;
}

function atLeast(version: string, wanted: string): boolean {
  const [a = 0, b = 0] = version.split('.').map(Number);
  const [c = 0, d = 0] = wanted.split('.').map(Number);
  return a > c || (a === c && b >= d);
}

// Before 2.47 a server names its flavor by id; from 2.47 on the flavor is embedded.
function serverView(server: CloudState['servers'][number], version: string) {
  if (atLeast(version, '2.47')) return server;
  return {
    ...server,
    flavor: { id: keystoneId('flavor', String((server.flavor as { original_name?: string } | undefined)?.original_name)), links: [] },
  };
}

function hypervisorsView(state: CloudState, version: string) {
  return state.hypervisors.map((h) => {
    const vms = state.servers.filter((s) => s['OS-EXT-SRV-ATTR:hypervisor_hostname'] === h.hostname);
    const flavors = vms.map((s) => s['flavor'] as { vcpus: number; ram: number; disk: number });
    return {
      // Ids are UUIDs from microversion 2.53 on, integers before.
      id: atLeast(version, '2.53') ? h.uuid : h.legacyId,
      hypervisor_hostname: h.hostname,
      hypervisor_type: 'QEMU',
      hypervisor_version: 8002000,
      state: 'up',
      status: 'enabled',
      host_ip: h.hostIp,
      vcpus: h.vcpus,
      vcpus_used: flavors.reduce((sum, f) => sum + f.vcpus, 0),
      memory_mb: h.memoryMb,
      memory_mb_used: 512 + flavors.reduce((sum, f) => sum + f.ram, 0),
      local_gb: h.localGb,
      local_gb_used: flavors.reduce((sum, f) => sum + f.disk, 0),
      free_ram_mb: h.memoryMb - 512 - flavors.reduce((sum, f) => sum + f.ram, 0),
      running_vms: vms.length,
      current_workload: 0,
      disk_available_least: h.localGb - flavors.reduce((sum, f) => sum + f.disk, 0),
      cpu_info: JSON.stringify({ arch: 'x86_64', model: 'Haswell-noTSX', vendor: 'Intel' }),
      service: { host: h.hostname, id: keystoneId('nova-compute', h.hostname), disabled_reason: null },
    };
  });
}
