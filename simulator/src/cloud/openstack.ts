import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { RouteTable } from '#kit';
import { BadRequest, NotFound, Unauthorized, type HttpError } from './errors.ts';
import { isRecord, readJson, routed, sendJson, withoutTrailingSlash, type Answer, type Exchange, type Handler } from './http.ts';
import { keystoneId, type KeystoneProject } from './model.ts';
import type { CloudState } from './state.ts';

/** Path prefixes of the devstack-like layout: one server, services under their own prefix. */
export const OPENSTACK_PREFIX = { identity: '/identity', compute: '/compute/v2.1', network: '/network' } as const;

const KEYSTONE = `${OPENSTACK_PREFIX.identity}/v3`;
const NOVA = OPENSTACK_PREFIX.compute;
const NEUTRON = OPENSTACK_PREFIX.network;

/**
 * Keystone v3, Nova v2.1 and Neutron v2.0 as devstack serves them. `baseUrl()` gives the server's
 * own URL, which Keystone's catalog points at. Every route but Keystone's version and token issue
 * needs a valid `X-Auth-Token`; so does a path under a service's prefix that no route serves,
 * answered then with that service's own 404.
 */
export function openStackHandler(state: CloudState, baseUrl: () => string): Handler {
  const authenticated =
    <P>(handler: (exchange: Exchange, params: P) => Answer) =>
    (exchange: Exchange, params: P): Answer => {
      requireToken(exchange.req);
      return handler(exchange, params);
    };

  const routes = new RouteTable<Exchange, Answer>()
    // Keystone
    .on('GET', KEYSTONE, ({ res }) =>
      sendJson(res, 200, {
        version: {
          id: 'v3.14',
          status: 'stable',
          updated: '2020-04-07T00:00:00Z',
          links: [{ rel: 'self', href: `${baseUrl()}${KEYSTONE}/` }],
        },
      }),
    )
    .on('POST', `${KEYSTONE}/auth/tokens`, issueToken)
    .on(
      'GET',
      `${KEYSTONE}/projects`,
      authenticated(({ res, url }) =>
        sendJson(res, 200, {
          projects: state.projects,
          links: { self: `${baseUrl()}${withoutTrailingSlash(url)}`, next: null, previous: null },
        }),
      ),
    )
    .on('POST', `${KEYSTONE}/projects`, authenticated(createProject))
    .on(
      'DELETE',
      `${KEYSTONE}/projects/{id}`,
      authenticated(({ res }, { id }) => {
        state.deleteProject(decodedSegment(id));
        res.writeHead(204);
        res.end();
      }),
    )
    // Nova
    .on(
      'GET',
      `${NOVA}/servers/detail`,
      authenticated(({ req, res }) => {
        const nova = novaVersion(req);
        sendJson(res, 200, { servers: state.servers.map((s) => serverView(s, nova.version)) }, nova.headers);
      }),
    )
    .on(
      'GET',
      `${NOVA}/servers`,
      authenticated(({ req, res }) =>
        sendJson(res, 200, { servers: state.servers.map((s) => ({ id: s.id, name: s.name, links: [] })) }, novaVersion(req).headers),
      ),
    )
    .on(
      'GET',
      `${NOVA}/os-hypervisors/detail`,
      authenticated(({ req, res }) => {
        const nova = novaVersion(req);
        sendJson(res, 200, { hypervisors: hypervisorsView(state, nova.version) }, nova.headers);
      }),
    )
    // Neutron
    .on(
      'GET',
      `${NEUTRON}/v2.0/networks`,
      authenticated(({ res, url }) => {
        const name = url.searchParams.get('name');
        sendJson(res, 200, { networks: state.networks.filter((n) => name === null || n.name === name) });
      }),
    );

  /** What a path under a service's prefix that no route serves is answered with, as that service words it. */
  const services: ReadonlyArray<{ prefix: string; notFound(exchange: Exchange): void }> = [
    {
      prefix: KEYSTONE,
      notFound: ({ res }) => sendJson(res, 404, { error: { code: 404, title: 'Not Found', message: `The resource could not be found.` } }),
    },
    {
      prefix: NOVA,
      notFound: ({ req, res }) =>
        sendJson(res, 404, { itemNotFound: { code: 404, message: `The resource could not be found.` } }, novaVersion(req).headers),
    },
    {
      prefix: NEUTRON,
      notFound: ({ res }) =>
        sendJson(res, 404, { NeutronError: { type: 'HTTPNotFound', message: `The resource could not be found.`, detail: '' } }),
    },
  ];

  return routed({
    routes,
    path: withoutTrailingSlash,
    unmatched(exchange, path) {
      // A prefix, not a segment: `/compute/v2.10` is Nova's, as it was before the route table.
      const service = services.find((s) => path.startsWith(s.prefix));
      if (!service) throw new NotFound(`No OpenStack service at ${path}`);
      requireToken(exchange.req);
      service.notFound(exchange);
    },
    tell: tellKeystoneError,
  });

  function requireToken(req: IncomingMessage): void {
    if (!state.checkToken(header(req, 'x-auth-token'))) throw new Unauthorized('The request you have made requires authentication.');
  }

  /** Keystone `POST /v3/projects`: `{"project": {name, domain_id?, description?, enabled?}}`, 201 with the project. */
  async function createProject({ req, res }: Exchange): Promise<void> {
    const body = await readJson(req);
    const input = isRecord(body) ? body['project'] : undefined;
    if (!isRecord(input)) throw new BadRequest('Expecting to find project in request body.');
    const name = input['name'];
    if (typeof name !== 'string' || !name || name.length > 64)
      throw new BadRequest("Invalid input for field 'name': a name of 1-64 characters is required.");
    // Without domain_id, the domain of the token's scope: the simulated data center has one.
    const domainId = input['domain_id'] ?? 'default';
    if (domainId !== 'default') throw new NotFound(`Could not find domain: ${String(domainId)}.`);
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
    state.addProject(project);
    sendJson(res, 201, {
      project: { ...project, tags: [], options: {}, links: { self: `${baseUrl()}${KEYSTONE}/projects/${project.id}` } },
    });
  }

  async function issueToken({ req, res }: Exchange): Promise<void> {
    const login = parseLogin(await readJson(req));
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
      throw new Unauthorized('The request you have made requires authentication.');
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

/** Keystone's error body, which the other services' token check answers with too: `{"error": {code, title, message}}`. */
function tellKeystoneError(res: ServerResponse, error: HttpError): void {
  sendJson(res, error.status, { error: { code: error.status, title: error.title, message: error.message } });
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
function parseLogin(body: unknown): Login {
  const auth = isRecord(body) ? body['auth'] : undefined;
  if (!isRecord(auth))
    throw new BadRequest(
      'Expecting to find auth in request body. The server could not comply with the request since it is either malformed or otherwise incorrect.',
    );
  const identity = auth['identity'];
  if (!isRecord(identity) || !Array.isArray(identity['methods']) || !identity['methods'].includes('password'))
    throw new BadRequest('Expecting to find identity.methods ["password"] in auth.');
  const password = identity['password'];
  const user = isRecord(password) ? password['user'] : undefined;
  if (!isRecord(user) || typeof user['name'] !== 'string' || typeof user['password'] !== 'string')
    throw new BadRequest('Expecting to find password.user.name and password.user.password in identity.');
  const userDomain = domainOf(user['domain']);
  if (!userDomain) throw new BadRequest('Expecting to find domain in user.');
  const scope = auth['scope'];
  const project = isRecord(scope) ? scope['project'] : undefined;
  if (!isRecord(project) || (typeof project['name'] !== 'string' && typeof project['id'] !== 'string'))
    throw new BadRequest('Expecting to find scope.project with a name or an id (only project-scoped tokens are supported).');
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

/**
 * The requested Nova microversion (`X-OpenStack-Nova-API-Version` or `OpenStack-API-Version: compute X`)
 * and the headers every Nova answer but a 401 names it in.
 */
function novaVersion(req: IncomingMessage): { version: string; headers: Record<string, string> } {
  const legacy = header(req, 'x-openstack-nova-api-version');
  const modern = /compute\s+([\d.]+|latest)/i.exec(header(req, 'openstack-api-version') ?? '')?.[1];
  const requested = legacy ?? modern ?? '2.1';
  const version = requested === 'latest' ? '2.96' : requested;
  return {
    version,
    headers: {
      'x-openstack-nova-api-version': version,
      'openstack-api-version': `compute ${version}`,
      vary: 'OpenStack-API-Version, X-OpenStack-Nova-API-Version',
    },
  };
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

/** A path segment percent-decoded; as sent when it is not valid percent-encoding (no project has that id: 404). */
function decodedSegment(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}
