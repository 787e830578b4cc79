import { EventEmitter } from 'node:events';
import { randomBytes, randomUUID } from 'node:crypto';
import type { Scenario } from '../scenario.ts';
import type { ContrailObject, Json, JsonObject, KeystoneProject, KubeObject, NeutronNetwork, NovaHypervisor, NovaServer } from './model.ts';
import { AlreadyExists, Conflict, NotFound } from './errors.ts';
import { nodeStatus, runningPodStatus, seedContrail, seedKubernetes, seedOpenStack } from './seed.ts';

/** Which login the simulated Keystone accepts. */
export interface CloudCredentials {
  username: string;
  password: string;
  projectName: string;
  domainName: string;
}

export const defaultCloudCredentials: CloudCredentials = {
  username: 'admin',
  password: 'iot-platform',
  projectName: 'admin',
  domainName: 'Default',
};

export interface CloudStateOptions {
  /** How long the simulated kubelet takes to report a new node (and to start a new pod). Default 300 ms. */
  nodeReadyDelayMs?: number;
  /** Lifetime of Keystone tokens. Default 1 h. */
  tokenTtlMs?: number;
  credentials?: Partial<CloudCredentials>;
}

export type KubeResource = 'nodes' | 'pods' | 'namespaces';
export type WatchType = 'ADDED' | 'MODIFIED' | 'DELETED';

/** Events of the simulated data center. */
export interface CloudStateEvents {
  /** A node was created through the API (scenario nodes exist from the start and are not announced). */
  nodeAdded: [name: string, labels: Record<string, string>];
  nodeDeleted: [name: string];
  /** The simulated kubelet reported the node Ready. */
  nodeReady: [name: string];
  /** Every change of a Kubernetes object, for `?watch=1`. */
  kube: [resource: KubeResource, type: WatchType, object: KubeObject];
}

/** A failure a simulated API answers with instead of doing the request: tests inject them. */
export interface Fault {
  system: 'openstack' | 'contrail' | 'kubernetes';
  method: string;
  /** Matched against the request's path. */
  path: RegExp;
  /** HTTP status. Default 500. */
  status?: number;
  message?: string;
  /** How many matching requests fail. Default 1. */
  times?: number;
  /**
   * Instead of failing, the request is held: `hold` is called when it arrives, and the request is
   * answered as usual once the promise it returns settles. A test holds one step of a change to
   * run another change meanwhile (a race made deterministic).
   */
  hold?: () => Promise<unknown>;
}

interface Token {
  expiresAt: number;
  projectId: string;
}

/** The objects of the simulated data center, as `CloudState.snapshot` gives them (tokens and faults are not kept). */
export interface CloudSnapshot {
  projects: KeystoneProject[];
  servers: NovaServer[];
  networks: NeutronNetwork[];
  contrailProjects: ContrailObject[];
  networkIpams: ContrailObject[];
  virtualNetworks: ContrailObject[];
  virtualRouters: ContrailObject[];
  bgpRouters: ContrailObject[];
  /** Absent in state files written before interfaces were simulated: the scenario's are kept then. */
  virtualMachineInterfaces?: ContrailObject[];
  nodes: KubeObject[];
  namespaces: KubeObject[];
  pods: KubeObject[];
  resourceVersion: number;
}

/**
 * The simulated data center: OpenStack, Contrail and Kubernetes objects derived from a scenario,
 * mutated by the simulated APIs. A change it refuses throws an `HttpError` carrying its status
 * (`NotFound`, `AlreadyExists`, `Conflict`), which each API tells in its own words. Owns the
 * simulated kubelet's timers; `close()` clears them.
 */
export class CloudState extends EventEmitter<CloudStateEvents> {
  readonly credentials: CloudCredentials;
  readonly nodeReadyDelayMs: number;
  readonly tokenTtlMs: number;

  readonly projects: KeystoneProject[];
  readonly hypervisors: NovaHypervisor[];
  readonly servers: NovaServer[];
  readonly networks: NeutronNetwork[];
  readonly #tokens = new Map<string, Token>();

  readonly contrailProjects: ContrailObject[];
  readonly networkIpams: ContrailObject[];
  readonly virtualNetworks: ContrailObject[];
  readonly virtualRouters = new Map<string, ContrailObject>();
  readonly bgpRouters: ContrailObject[];
  /** Ports on tenants' networks bound to a host's vRouter: guest tenants' collectors on shared gateways. */
  readonly virtualMachineInterfaces: ContrailObject[];

  readonly nodes = new Map<string, KubeObject>();
  readonly namespaces = new Map<string, KubeObject>();
  /** Keyed `namespace/name`. */
  readonly pods = new Map<string, KubeObject>();
  readonly #faults: Array<Fault & { times: number }> = [];
  #resourceVersion = 1000;
  readonly #timers = new Set<NodeJS.Timeout>();
  #closed = false;

  constructor(
    readonly scenario: Scenario,
    options: CloudStateOptions = {},
  ) {
    super();
    this.credentials = { ...defaultCloudCredentials, ...options.credentials };
    this.nodeReadyDelayMs = options.nodeReadyDelayMs ?? 300;
    this.tokenTtlMs = options.tokenTtlMs ?? 3_600_000;
    const openstack = seedOpenStack(scenario);
    this.projects = openstack.projects;
    this.hypervisors = openstack.hypervisors;
    this.servers = openstack.servers;
    this.networks = openstack.networks;
    const contrail = seedContrail(scenario);
    this.contrailProjects = contrail.projects;
    this.networkIpams = contrail.networkIpams;
    this.virtualNetworks = contrail.virtualNetworks;
    for (const router of contrail.virtualRouters) this.virtualRouters.set(router.uuid, router);
    this.bgpRouters = contrail.bgpRouters;
    this.virtualMachineInterfaces = contrail.virtualMachineInterfaces;
    const kube = seedKubernetes(scenario, () => this.nextResourceVersion());
    for (const node of kube.nodes) this.nodes.set(node.metadata.name, node);
    for (const ns of kube.namespaces) this.namespaces.set(ns.metadata.name, ns);
    for (const pod of kube.pods) this.pods.set(podKey(pod), pod);
  }

  /** Every object, for the simulator's state file (JSON-safe; the arrays are copies). */
  snapshot(): CloudSnapshot {
    return {
      projects: [...this.projects],
      servers: [...this.servers],
      networks: [...this.networks],
      contrailProjects: [...this.contrailProjects],
      networkIpams: [...this.networkIpams],
      virtualNetworks: [...this.virtualNetworks],
      virtualRouters: [...this.virtualRouters.values()],
      bgpRouters: [...this.bgpRouters],
      virtualMachineInterfaces: [...this.virtualMachineInterfaces],
      nodes: [...this.nodes.values()],
      namespaces: [...this.namespaces.values()],
      pods: [...this.pods.values()],
      resourceVersion: this.#resourceVersion,
    };
  }

  /**
   * Replaces the scenario's objects by a snapshot's, as the data center was when it was taken
   * (before the API servers serve anything). Nodes that had not reported Ready yet do so after
   * `nodeReadyDelayMs`, without announcing themselves again.
   */
  restore(snapshot: CloudSnapshot): void {
    const replace = <T>(list: T[], items: readonly T[]) => list.splice(0, list.length, ...items);
    replace(this.projects, snapshot.projects);
    replace(this.servers, snapshot.servers);
    replace(this.networks, snapshot.networks);
    replace(this.contrailProjects, snapshot.contrailProjects);
    replace(this.networkIpams, snapshot.networkIpams);
    replace(this.virtualNetworks, snapshot.virtualNetworks);
    replace(this.bgpRouters, snapshot.bgpRouters);
    if (snapshot.virtualMachineInterfaces) replace(this.virtualMachineInterfaces, snapshot.virtualMachineInterfaces);
    this.virtualRouters.clear();
    for (const router of snapshot.virtualRouters) this.virtualRouters.set(router.uuid, router);
    this.nodes.clear();
    for (const node of snapshot.nodes) this.nodes.set(node.metadata.name, node);
    this.namespaces.clear();
    for (const ns of snapshot.namespaces) this.namespaces.set(ns.metadata.name, ns);
    this.pods.clear();
    for (const pod of snapshot.pods) this.pods.set(podKey(pod), pod);
    this.#resourceVersion = Math.max(this.#resourceVersion, snapshot.resourceVersion);
    for (const node of this.nodes.values()) {
      if (isReady(node)) continue;
      this.#later(() => {
        if (this.nodes.get(node.metadata.name) !== node) return;
        node.status = nodeStatus(
          node.metadata.name,
          node.metadata.labels['kubernetes.io/arch'] ?? 'amd64',
          undefined,
          true,
          new Date().toISOString(),
        );
        this.#store('nodes', 'MODIFIED', node);
      });
    }
  }

  // --- Keystone -------------------------------------------------------------------------------

  /** Issues a token scoped to `projectId`. */
  issueToken(projectId: string): { token: string; expiresAt: Date; issuedAt: Date } {
    const token = `gAAAAA${randomBytes(48).toString('base64url')}`;
    const issuedAt = new Date();
    const expiresAt = new Date(issuedAt.getTime() + this.tokenTtlMs);
    this.#tokens.set(token, { expiresAt: expiresAt.getTime(), projectId });
    return { token, expiresAt, issuedAt };
  }

  /** The token's project id when the token is known and not expired. */
  checkToken(token: string | undefined): string | undefined {
    const entry = token ? this.#tokens.get(token) : undefined;
    if (!entry) return undefined;
    if (entry.expiresAt <= Date.now()) {
      this.#tokens.delete(token!);
      return undefined;
    }
    return entry.projectId;
  }

  /** Forgets every token (as a Keystone restart with new fernet keys would). */
  revokeTokens(): void {
    this.#tokens.clear();
  }

  /** Adds a Keystone project; names are unique within a domain. */
  addProject(project: KeystoneProject): KeystoneProject {
    if (this.projects.some((p) => p.name === project.name && p.domain_id === project.domain_id)) {
      throw new AlreadyExists(
        `Conflict occurred attempting to store project - it is not permitted to have two projects with the same name in the same domain : ${project.name}.`,
      );
    }
    this.projects.push(project);
    return project;
  }

  deleteProject(id: string): KeystoneProject {
    const index = this.projects.findIndex((p) => p.id === id);
    if (index < 0) throw new NotFound(`Could not find project: ${id}.`);
    return this.projects.splice(index, 1)[0]!;
  }

  // --- Contrail -------------------------------------------------------------------------------

  /**
   * Adds a project, network IPAM or virtual network to its list; its parent project (for IPAMs
   * and networks) must exist, and its fq_name and uuid be free.
   */
  addConfigObject(list: ContrailObject[], object: ContrailObject): ContrailObject {
    const fq = object.fq_name.join(':');
    const existing = list.find((o) => o.fq_name.join(':') === fq || o.uuid === object.uuid);
    if (existing) throw new AlreadyExists(`Fq_name ${JSON.stringify(object.fq_name)} already exists with uuid: ${existing.uuid}`);
    if (object.parent_type === 'project') {
      const parent = this.contrailProjects.find((p) => p.fq_name.join(':') === object.fq_name.slice(0, 2).join(':'));
      if (!parent) throw new NotFound(`Parent ${JSON.stringify(object.fq_name.slice(0, 2))} type project does not exist`);
      object['parent_uuid'] = parent.uuid;
    }
    list.push(object);
    return object;
  }

  /**
   * Deletes a project, network IPAM, virtual network or virtual machine interface, refused as the
   * API server refuses it: a project with children, an IPAM a network or vRouter refers to, a
   * network an interface is on.
   */
  deleteConfigObject(list: ContrailObject[], uuid: string): ContrailObject {
    const index = list.findIndex((o) => o.uuid === uuid);
    if (index < 0) throw new NotFound(`ID ${uuid} not found`);
    const object = list[index]!;
    const children = [...this.networkIpams, ...this.virtualNetworks, ...this.virtualMachineInterfaces].filter(
      (o) => o['parent_uuid'] === uuid,
    );
    if (children.length) throw new Conflict(`Delete when children still present: ${JSON.stringify(children.map((c) => c.fq_name))}`);
    const refersTo = (o: ContrailObject, refs: string) => asArray(o[refs]).some((r) => asObject(r)['uuid'] === uuid);
    const referrers = [
      ...[...this.virtualNetworks, ...this.virtualRouters.values()].filter((o) => refersTo(o, 'network_ipam_refs')),
      ...this.virtualMachineInterfaces.filter((o) => refersTo(o, 'virtual_network_refs')),
    ];
    if (referrers.length) throw new Conflict(`Delete when resource still referred: ${JSON.stringify(referrers.map((r) => r.fq_name))}`);
    list.splice(index, 1);
    return object;
  }

  findVirtualRouterByName(name: string): ContrailObject | undefined {
    for (const router of this.virtualRouters.values()) if (router.name === name) return router;
    return undefined;
  }

  addVirtualRouter(router: ContrailObject): ContrailObject {
    const existing = this.findVirtualRouterByName(router.name);
    if (existing) throw new AlreadyExists(`Fq_name ${JSON.stringify(router.fq_name)} already exists with uuid: ${existing.uuid}`);
    this.virtualRouters.set(router.uuid, router);
    return router;
  }

  // --- Kubernetes -----------------------------------------------------------------------------

  nextResourceVersion(): string {
    return String(++this.#resourceVersion);
  }

  get resourceVersion(): string {
    return String(this.#resourceVersion);
  }

  /** Registers a node; it reports Ready after `nodeReadyDelayMs`, like a kubelet that starts up. */
  createNode(node: KubeObject): KubeObject {
    const { name } = node.metadata;
    if (this.nodes.has(name)) throw new AlreadyExists(`nodes "${name}" already exists`);
    const arch = node.metadata.labels['kubernetes.io/arch'] ?? 'amd64';
    node.status = nodeStatus(name, arch, undefined, false, new Date().toISOString());
    this.#store('nodes', 'ADDED', node);
    this.emit('nodeAdded', name, { ...node.metadata.labels });
    this.#later(() => {
      const current = this.nodes.get(name);
      if (current !== node) return;
      node.status = nodeStatus(name, arch, undefined, true, new Date().toISOString());
      this.#store('nodes', 'MODIFIED', node);
      this.emit('nodeReady', name);
      for (const pod of this.pods.values()) {
        if (podPhase(pod) !== 'Pending') continue;
        // The scheduler retries pods no Ready node matched: this node may match them now.
        if (podNodeName(pod) === undefined && matchesNodeSelector(node, pod)) {
          asObject(pod.spec)['nodeName'] = name;
          pod.status = { phase: 'Pending', conditions: [{ type: 'PodScheduled', status: 'True' }] };
          this.#store('pods', 'MODIFIED', pod);
        }
        if (podNodeName(pod) === name) this.#startPod(pod);
      }
    });
    return node;
  }

  replaceNode(node: KubeObject): KubeObject {
    this.#store('nodes', 'MODIFIED', node);
    return node;
  }

  deleteNode(name: string): KubeObject {
    const node = this.nodes.get(name);
    if (!node) throw new NotFound(`nodes "${name}" not found`);
    this.nodes.delete(name);
    this.emit('kube', 'nodes', 'DELETED', node);
    this.emit('nodeDeleted', name);
    return node;
  }

  createNamespace(ns: KubeObject): KubeObject {
    const { name } = ns.metadata;
    if (this.namespaces.has(name)) throw new AlreadyExists(`namespaces "${name}" already exists`);
    ns.spec = { finalizers: ['kubernetes'] };
    ns.status = { phase: 'Active' };
    ns.metadata.labels = { ...ns.metadata.labels, 'kubernetes.io/metadata.name': name };
    this.#store('namespaces', 'ADDED', ns);
    return ns;
  }

  /** Deletes a namespace and the pods in it (at once: the simulated one has no finalizers to wait for). */
  deleteNamespace(name: string): KubeObject {
    const ns = this.namespaces.get(name);
    if (!ns) throw new NotFound(`namespaces "${name}" not found`);
    for (const pod of [...this.pods.values()]) if (pod.metadata['namespace'] === name) this.deletePod(name, pod.metadata.name);
    this.namespaces.delete(name);
    ns.status = { phase: 'Terminating' };
    this.emit('kube', 'namespaces', 'DELETED', ns);
    return ns;
  }

  /** Creates a pod; the simulated scheduler binds it to a Ready node matching its nodeSelector. */
  createPod(pod: KubeObject): KubeObject {
    const namespace = pod.metadata['namespace'];
    if (typeof namespace !== 'string' || !this.namespaces.has(namespace)) throw new NotFound(`namespaces "${String(namespace)}" not found`);
    if (this.pods.has(podKey(pod))) throw new AlreadyExists(`pods "${pod.metadata.name}" already exists`);
    const spec = asObject(pod.spec);
    if (typeof spec['nodeName'] !== 'string') {
      const node = [...this.nodes.values()].find((n) => isReady(n) && matchesNodeSelector(n, pod));
      if (node) spec['nodeName'] = node.metadata.name;
    }
    pod.spec = spec;
    pod.status = {
      phase: 'Pending',
      conditions: [{ type: 'PodScheduled', status: typeof spec['nodeName'] === 'string' ? 'True' : 'False' }],
    };
    this.#store('pods', 'ADDED', pod);
    const node = this.nodes.get(String(spec['nodeName']));
    if (node && isReady(node)) this.#later(() => this.#startPod(pod));
    return pod;
  }

  deletePod(namespace: string, name: string): KubeObject {
    const key = `${namespace}/${name}`;
    const pod = this.pods.get(key);
    if (!pod) throw new NotFound(`pods "${name}" not found`);
    this.pods.delete(key);
    this.emit('kube', 'pods', 'DELETED', pod);
    return pod;
  }

  // --- Faults ---------------------------------------------------------------------------------

  /** Makes the next matching request(s) fail, e.g. "Kubernetes refuses to create pods" (a test hook). */
  injectFault(fault: Fault): void {
    this.#faults.push({ ...fault, times: fault.times ?? 1 });
  }

  /** The injected fault that answers this request instead, if any (used up as it is taken). */
  takeFault(system: Fault['system'], method: string, path: string): Fault | undefined {
    const index = this.#faults.findIndex((f) => f.system === system && f.method === method && f.path.test(path));
    if (index < 0) return undefined;
    const fault = this.#faults[index]!;
    if (--fault.times <= 0) this.#faults.splice(index, 1);
    return fault;
  }

  /** Forgets injected faults not used up. */
  clearFaults(): void {
    this.#faults.length = 0;
  }

  /** Stops the simulated kubelet's timers. */
  close(): void {
    this.#closed = true;
    for (const timer of this.#timers) clearTimeout(timer);
    this.#timers.clear();
    this.removeAllListeners();
  }

  #startPod(pod: KubeObject): void {
    if (this.pods.get(podKey(pod)) !== pod) return;
    const containers = asArray(asObject(pod.spec)['containers']).map((c) => ({
      name: String(asObject(c)['name']),
      image: String(asObject(c)['image']),
    }));
    pod.status = runningPodStatus(
      containers,
      `10.244.${Math.floor(Math.random() * 250) + 1}.${Math.floor(Math.random() * 250) + 2}`,
      new Date().toISOString(),
    );
    this.#store('pods', 'MODIFIED', pod);
  }

  #store(resource: KubeResource, type: WatchType, object: KubeObject): void {
    object.metadata.resourceVersion = this.nextResourceVersion();
    if (resource === 'nodes') this.nodes.set(object.metadata.name, object);
    else if (resource === 'namespaces') this.namespaces.set(object.metadata.name, object);
    else this.pods.set(podKey(object), object);
    this.emit('kube', resource, type, object);
  }

  #later(run: () => void): void {
    if (this.#closed) return;
    const timer = setTimeout(() => {
      this.#timers.delete(timer);
      run();
    }, this.nodeReadyDelayMs);
    this.#timers.add(timer);
  }
}

/** A fresh uid for objects created through the API. */
export function newUid(): string {
  return randomUUID();
}

export function podKey(pod: KubeObject): string {
  return `${String(pod.metadata['namespace'])}/${pod.metadata.name}`;
}

export function podNodeName(pod: KubeObject): string | undefined {
  const name = asObject(pod.spec)['nodeName'];
  return typeof name === 'string' ? name : undefined;
}

export function podPhase(pod: KubeObject): string | undefined {
  const phase = asObject(pod.status)['phase'];
  return typeof phase === 'string' ? phase : undefined;
}

/** Whether the scheduler may bind `pod` to `node`: a worker whose labels match the pod's nodeSelector. */
function matchesNodeSelector(node: KubeObject, pod: KubeObject): boolean {
  const selector = asObject(asObject(pod.spec)['nodeSelector']);
  return (
    !node.metadata.labels['node-role.kubernetes.io/control-plane'] &&
    Object.entries(selector).every(([k, v]) => node.metadata.labels[k] === v)
  );
}

export function isReady(node: KubeObject): boolean {
  return asArray(asObject(node.status)['conditions']).some((c) => asObject(c)['type'] === 'Ready' && asObject(c)['status'] === 'True');
}

export function asObject(value: Json | undefined): JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? value : {};
}

export function asArray(value: Json | undefined): Json[] {
  return Array.isArray(value) ? value : [];
}
