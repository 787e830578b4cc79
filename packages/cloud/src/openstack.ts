import { requestJson, validateBody, UpstreamError, type JsonRequest, type SystemName } from './http.ts';
import { arrayOf, boolean, number, object, optional, recordOf, string, stringOrNumber } from './validate.ts';

/** How to reach and log in to OpenStack (Keystone v3, password method, project scope). */
export interface OpenStackClientOptions {
  /** Keystone v3 base, e.g. `http://controller:5000/v3` or devstack's `http://host/identity/v3`. */
  authUrl: string;
  username: string;
  password: string;
  projectName: string;
  /** Domain of the user and of the project. Default `Default`. */
  domainName?: string;
  /** Catalog region to use; the first endpoint of the interface otherwise. */
  region?: string;
  /** Catalog interface. Default `public`. */
  endpointInterface?: 'public' | 'internal' | 'admin';
  /** A token is renewed this long before its `expires_at`. Default 60 s. */
  renewBeforeMs?: number;
  /** Per-request timeout. Default 10 s. */
  timeoutMs?: number;
  fetch?: typeof fetch;
}

export interface OpenStackProject {
  id: string;
  name: string;
  domainId?: string;
  description?: string;
  enabled: boolean;
}

export interface OpenStackServerAddress {
  network: string;
  address: string;
  version: number;
}

export interface OpenStackServer {
  id: string;
  name: string;
  status: string;
  projectId: string;
  hypervisorHostname?: string;
  availabilityZone?: string;
  flavor?: string;
  addresses: OpenStackServerAddress[];
  created?: string;
}

export interface OpenStackHypervisor {
  id: string;
  hostname: string;
  state: string;
  status: string;
  type?: string;
  hostIp?: string;
  vcpus: number;
  vcpusUsed: number;
  memoryMb: number;
  memoryMbUsed: number;
  runningVms: number;
}

export interface OpenStackNetwork {
  id: string;
  name: string;
  status: string;
  projectId?: string;
  subnets: string[];
  shared: boolean;
  external: boolean;
  mtu?: number;
}

const tokenBody = object({
  token: object({
    expires_at: string,
    catalog: optional(
      arrayOf(
        object({
          type: string,
          name: optional(string),
          endpoints: arrayOf(object({ interface: string, url: string, region_id: optional(string), region: optional(string) })),
        }),
      ),
    ),
  }),
});

const projectFields = { id: string, name: string, domain_id: optional(string), description: optional(string), enabled: optional(boolean) };
const projectBody = object({ project: object(projectFields) });
const projectsBody = object({ projects: arrayOf(object(projectFields)) });

const serversBody = object({
  servers: arrayOf(
    object({
      id: string,
      name: string,
      status: string,
      tenant_id: string,
      created: optional(string),
      flavor: optional(object({ original_name: optional(string), id: optional(string) })),
      addresses: optional(recordOf(arrayOf(object({ addr: string, version: number })))),
      'OS-EXT-SRV-ATTR:hypervisor_hostname': optional(string),
      'OS-EXT-AZ:availability_zone': optional(string),
    }),
  ),
});

const hypervisorsBody = object({
  hypervisors: arrayOf(
    object({
      id: stringOrNumber,
      hypervisor_hostname: string,
      state: string,
      status: string,
      hypervisor_type: optional(string),
      host_ip: optional(string),
      vcpus: number,
      vcpus_used: number,
      memory_mb: number,
      memory_mb_used: number,
      running_vms: number,
    }),
  ),
});

const networksBody = object({
  networks: arrayOf(
    object({
      id: string,
      name: string,
      status: string,
      project_id: optional(string),
      tenant_id: optional(string),
      subnets: arrayOf(string),
      shared: optional(boolean),
      'router:external': optional(boolean),
      mtu: optional(number),
    }),
  ),
});

interface Token {
  value: string;
  expiresAt: number;
  endpoints: { compute: string; network: string };
}

/** Nova microversion we ask for: hypervisor ids are UUIDs from 2.53 on. */
export const NOVA_MICROVERSION = '2.53';

/**
 * OpenStack over plain `fetch` (there is no maintained JS SDK): Keystone v3 password auth with a
 * cached token renewed before it expires, Nova and Neutron endpoints taken from the token's
 * catalog, and one retry with a fresh token when a service answers 401 (token revoked early).
 */
export class OpenStackClient {
  readonly #options: Required<Omit<OpenStackClientOptions, 'region'>> & { region?: string };
  #token: Token | undefined;
  #pending: Promise<Token> | undefined;

  constructor(options: OpenStackClientOptions) {
    this.#options = {
      domainName: 'Default',
      endpointInterface: 'public',
      renewBeforeMs: 60_000,
      timeoutMs: 10_000,
      fetch: globalThis.fetch,
      ...options,
      authUrl: options.authUrl.replace(/\/+$/, ''),
    };
  }

  /** A valid token (from the cache unless it is about to expire), e.g. for Contrail's `X-Auth-Token`. */
  async token(): Promise<string> {
    return (await this.#validToken()).value;
  }

  /** Keystone `GET /v3/projects` (needs an admin-scoped token). */
  async listProjects(): Promise<OpenStackProject[]> {
    const body = await this.#call('Keystone', 'GET', () => `${this.#options.authUrl}/projects`, projectsBody);
    return body.projects.map(toProject);
  }

  /**
   * Keystone `POST /v3/projects` (needs an admin-scoped token): an enabled project in the domain
   * of the token's project. A name taken in that domain is a 409.
   */
  async createProject(input: { name: string; description?: string }): Promise<OpenStackProject> {
    const body = await this.#call('Keystone', 'POST', () => `${this.#options.authUrl}/projects`, projectBody, {
      body: { project: { name: input.name, description: input.description ?? '', enabled: true, is_domain: false } },
    });
    return toProject(body.project);
  }

  /** Keystone `DELETE /v3/projects/{id}`; false when there was none. */
  async deleteProject(id: string): Promise<boolean> {
    try {
      await this.#call(
        'Keystone',
        'DELETE',
        () => `${this.#options.authUrl}/projects/${encodeURIComponent(id)}`,
        () => undefined,
      );
      return true;
    } catch (error) {
      if (error instanceof UpstreamError && error.status === 404) return false;
      throw error;
    }
  }

  /** Nova `GET /servers/detail` (all projects when the token may see them), flavors embedded (2.47+). */
  async listServers(): Promise<OpenStackServer[]> {
    const body = await this.#call('Nova', 'GET', (t) => `${t.endpoints.compute}/servers/detail?all_tenants=1`, serversBody, {
      headers: { 'X-OpenStack-Nova-API-Version': NOVA_MICROVERSION },
    });
    return body.servers.map((s) => ({
      id: s.id,
      name: s.name,
      status: s.status,
      projectId: s.tenant_id,
      hypervisorHostname: s['OS-EXT-SRV-ATTR:hypervisor_hostname'],
      availabilityZone: s['OS-EXT-AZ:availability_zone'],
      flavor: s.flavor?.original_name ?? s.flavor?.id,
      created: s.created,
      addresses: Object.entries(s.addresses ?? {}).flatMap(([network, list]) =>
        list.map((a) => ({ network, address: a.addr, version: a.version })),
      ),
    }));
  }

  /** Nova `GET /os-hypervisors/detail` at microversion 2.53. */
  async listHypervisors(): Promise<OpenStackHypervisor[]> {
    const body = await this.#call('Nova', 'GET', (t) => `${t.endpoints.compute}/os-hypervisors/detail`, hypervisorsBody, {
      headers: { 'X-OpenStack-Nova-API-Version': NOVA_MICROVERSION },
    });
    return body.hypervisors.map((h) => ({
      id: h.id,
      hostname: h.hypervisor_hostname,
      state: h.state,
      status: h.status,
      type: h.hypervisor_type,
      hostIp: h.host_ip,
      vcpus: h.vcpus,
      vcpusUsed: h.vcpus_used,
      memoryMb: h.memory_mb,
      memoryMbUsed: h.memory_mb_used,
      runningVms: h.running_vms,
    }));
  }

  /** Neutron `GET /v2.0/networks`. */
  async listNetworks(): Promise<OpenStackNetwork[]> {
    const body = await this.#call('Neutron', 'GET', (t) => `${t.endpoints.network}/networks`, networksBody);
    return body.networks.map((n) => ({
      id: n.id,
      name: n.name,
      status: n.status,
      projectId: n.project_id ?? n.tenant_id,
      subnets: n.subnets,
      shared: n.shared ?? false,
      external: n['router:external'] ?? false,
      mtu: n.mtu,
    }));
  }

  async #call<T>(
    system: SystemName,
    method: JsonRequest['method'],
    url: (token: Token) => string,
    check: (value: unknown, path: string) => T,
    { headers = {}, body }: { headers?: Record<string, string>; body?: unknown } = {},
  ): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      const token = await this.#validToken();
      const request = { system, method, url: url(token), fetch: this.#options.fetch, timeoutMs: this.#options.timeoutMs };
      try {
        const response = await requestJson({ ...request, headers: { ...headers, 'X-Auth-Token': token.value }, body });
        return validateBody(check, response.body, request);
      } catch (error) {
        if (attempt === 0 && error instanceof UpstreamError && error.status === 401) {
          // Tokens can be revoked before expires_at (password change, keystone restart): log in again once.
          if (this.#token === token) this.#token = undefined;
          continue;
        }
        throw error;
      }
    }
  }

  async #validToken(): Promise<Token> {
    const token = this.#token;
    if (token && token.expiresAt - this.#options.renewBeforeMs > Date.now()) return token;
    this.#pending ??= this.#authenticate().finally(() => {
      this.#pending = undefined;
    });
    return this.#pending;
  }

  async #authenticate(): Promise<Token> {
    const o = this.#options;
    const request = {
      system: 'Keystone' as const,
      method: 'POST' as const,
      url: `${o.authUrl}/auth/tokens`,
      fetch: o.fetch,
      timeoutMs: o.timeoutMs,
    };
    const response = await requestJson({
      ...request,
      body: {
        auth: {
          identity: {
            methods: ['password'],
            password: { user: { name: o.username, domain: { name: o.domainName }, password: o.password } },
          },
          scope: { project: { name: o.projectName, domain: { name: o.domainName } } },
        },
      },
    }).catch((error: unknown) => {
      if (error instanceof UpstreamError && error.status === 401) {
        throw new UpstreamError(
          `Keystone: POST ${error.path} answered 401: user "${o.username}" could not log in to project "${o.projectName}" (wrong username, password or domain)`,
          'Keystone',
          'POST',
          error.path,
          401,
          { cause: error },
        );
      }
      throw error;
    });
    const value = response.headers.get('x-subject-token');
    if (!value)
      throw new UpstreamError(
        'Keystone: POST /auth/tokens answered without an X-Subject-Token header',
        'Keystone',
        'POST',
        '/auth/tokens',
        response.status,
      );
    const body = validateBody(tokenBody, response.body, request);
    const expiresAt = Date.parse(body.token.expires_at);
    if (Number.isNaN(expiresAt))
      throw new UpstreamError(`Keystone: token expires_at "${body.token.expires_at}" is not a date`, 'Keystone', 'POST', '/auth/tokens');
    const catalog = body.token.catalog ?? [];
    const endpoint = (type: string): string => {
      const service = catalog.find((s) => s.type === type);
      const match = service?.endpoints.find(
        (e) => e.interface === o.endpointInterface && (!o.region || (e.region_id ?? e.region) === o.region),
      );
      if (!match)
        throw new UpstreamError(
          `Keystone: the catalog has no ${o.endpointInterface} "${type}" endpoint${o.region ? ` in region ${o.region}` : ''}`,
          'Keystone',
          'POST',
          '/auth/tokens',
        );
      return match.url.replace(/\/+$/, '');
    };
    const network = endpoint('network');
    this.#token = {
      value,
      expiresAt,
      // Neutron's catalog URL is the service root (`http://host:9696/`); its API lives under /v2.0.
      endpoints: { compute: endpoint('compute'), network: /\/v2\.0$/.test(network) ? network : `${network}/v2.0` },
    };
    return this.#token;
  }
}

function toProject(p: { id: string; name: string; domain_id?: string; description?: string; enabled?: boolean }): OpenStackProject {
  return { id: p.id, name: p.name, domainId: p.domain_id, description: p.description, enabled: p.enabled ?? true };
}
