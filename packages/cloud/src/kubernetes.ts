import { ApiException, CoreV1Api, KubeConfig, type V1Namespace, type V1Node, type V1Pod } from '@kubernetes/client-node';
import { UpstreamError } from './http.ts';
import { ValidationError } from './validate.ts';

/** Where the Kubernetes API is: a kubeconfig file (its current context), or a server URL. */
export type KubernetesClientOptions =
  | { kubeconfigPath: string }
  | {
      /** e.g. `https://k8s-master:6443`; `http:` works only for local servers (TLS checks off). */
      server: string;
      /** Bearer token, if the server wants one. */
      token?: string;
      /** Skip TLS certificate checks. Default true for `http:` URLs, false otherwise. */
      skipTLSVerify?: boolean;
    };

export interface KubeNodeAddress {
  type: string;
  address: string;
}

export interface KubeNode {
  name: string;
  uid?: string;
  labels: Record<string, string>;
  /** The `Ready` condition is `True`. */
  ready: boolean;
  /** `kubernetes.io/arch` label, else `status.nodeInfo.architecture`. */
  arch?: string;
  kubeletVersion?: string;
  osImage?: string;
  addresses: KubeNodeAddress[];
  createdAt?: Date;
}

export interface KubePod {
  name: string;
  namespace: string;
  labels: Record<string, string>;
  nodeName?: string;
  phase?: string;
  podIP?: string;
  /** Every container reports ready. */
  ready: boolean;
  /** Sum of the containers' restart counts. */
  restarts: number;
  containers: string[];
  createdAt?: Date;
}

export interface KubeNamespace {
  name: string;
  phase?: string;
  labels: Record<string, string>;
  createdAt?: Date;
}

export interface CreateNodeInput {
  name: string;
  labels: Record<string, string>;
  annotations?: Record<string, string>;
}

export interface CreatePodInput {
  name: string;
  namespace: string;
  labels?: Record<string, string>;
  nodeName?: string;
  nodeSelector?: Record<string, string>;
  containers: { name: string; image: string; env?: Record<string, string> }[];
}

/**
 * Core v1 of the Kubernetes API through `@kubernetes/client-node`: nodes (a gateway's kubelet
 * registers one), pods and namespaces. Answers are mapped to small models and checked for the
 * fields we rely on; failures become `UpstreamError`s naming the call.
 */
export class KubernetesClient {
  readonly #api: CoreV1Api;
  /** Base URL of the API server (for messages). */
  readonly server: string;

  constructor(options: KubernetesClientOptions) {
    const kc = new KubeConfig();
    if ('kubeconfigPath' in options) {
      kc.loadFromFile(options.kubeconfigPath);
    } else {
      const skipTLSVerify = options.skipTLSVerify ?? options.server.startsWith('http:');
      kc.loadFromClusterAndUser(
        { name: 'cluster', server: options.server, skipTLSVerify },
        { name: 'user', ...(options.token ? { token: options.token } : {}) },
      );
    }
    const cluster = kc.getCurrentCluster();
    if (!cluster) throw new Error('Kubernetes: the kubeconfig has no current cluster');
    this.server = cluster.server;
    this.#api = kc.makeApiClient(CoreV1Api);
  }

  /** Nodes, optionally filtered by a label selector (`iot-platform.io/gateway in (a,b)`). */
  async listNodes(labelSelector?: string): Promise<KubeNode[]> {
    const list = await this.#call('GET', '/api/v1/nodes', () => this.#api.listNode(labelSelector ? { labelSelector } : {}));
    return list.items.map((node, i) => toNode(node, `items[${i}]`, 'GET /api/v1/nodes'));
  }

  /** The node, or undefined when there is none of that name. */
  async readNode(name: string): Promise<KubeNode | undefined> {
    const path = `/api/v1/nodes/${name}`;
    const node = await this.#call('GET', path, () => this.#api.readNode({ name }), { notFound: undefined });
    return node && toNode(node, 'response', `GET ${path}`);
  }

  /** Registers a node object (what a kubelet does when it first starts). Fails if it exists. */
  async createNode(input: CreateNodeInput): Promise<KubeNode> {
    const body: V1Node = {
      apiVersion: 'v1',
      kind: 'Node',
      metadata: { name: input.name, labels: input.labels, annotations: input.annotations },
    };
    const node = await this.#call('POST', '/api/v1/nodes', () => this.#api.createNode({ body }));
    return toNode(node, 'response', 'POST /api/v1/nodes');
  }

  /** Deletes the node; false when there was none. */
  async deleteNode(name: string): Promise<boolean> {
    const path = `/api/v1/nodes/${name}`;
    return this.#call('DELETE', path, async () => (await this.#api.deleteNode({ name }), true), { notFound: false });
  }

  /** Pods of one namespace or of all, optionally only those scheduled on `nodeName`. */
  async listPods(filter: { namespace?: string; nodeName?: string; labelSelector?: string } = {}): Promise<KubePod[]> {
    const query = {
      ...(filter.nodeName ? { fieldSelector: `spec.nodeName=${filter.nodeName}` } : {}),
      ...(filter.labelSelector ? { labelSelector: filter.labelSelector } : {}),
    };
    const { namespace } = filter;
    const path = namespace ? `/api/v1/namespaces/${namespace}/pods` : '/api/v1/pods';
    const list = await this.#call('GET', path, () =>
      namespace ? this.#api.listNamespacedPod({ namespace, ...query }) : this.#api.listPodForAllNamespaces(query),
    );
    return list.items.map((pod, i) => toPod(pod, `items[${i}]`, `GET ${path}`));
  }

  async createPod(input: CreatePodInput): Promise<KubePod> {
    const path = `/api/v1/namespaces/${input.namespace}/pods`;
    const body: V1Pod = {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: input.name, namespace: input.namespace, labels: input.labels },
      spec: {
        nodeName: input.nodeName,
        nodeSelector: input.nodeSelector,
        containers: input.containers.map((c) => ({
          name: c.name,
          image: c.image,
          env: Object.entries(c.env ?? {}).map(([name, value]) => ({ name, value })),
        })),
      },
    };
    const pod = await this.#call('POST', path, () => this.#api.createNamespacedPod({ namespace: input.namespace, body }));
    return toPod(pod, 'response', `POST ${path}`);
  }

  /** Deletes the pod; false when there was none. */
  async deletePod(namespace: string, name: string): Promise<boolean> {
    const path = `/api/v1/namespaces/${namespace}/pods/${name}`;
    return this.#call('DELETE', path, async () => (await this.#api.deleteNamespacedPod({ namespace, name }), true), { notFound: false });
  }

  async listNamespaces(): Promise<KubeNamespace[]> {
    const list = await this.#call('GET', '/api/v1/namespaces', () => this.#api.listNamespace());
    return list.items.map((ns, i) => toNamespace(ns, `items[${i}]`, 'GET /api/v1/namespaces'));
  }

  /** Creates the namespace; fails (409) if it exists. */
  async createNamespace(name: string, labels: Record<string, string> = {}): Promise<KubeNamespace> {
    const body: V1Namespace = { apiVersion: 'v1', kind: 'Namespace', metadata: { name, labels } };
    const ns = await this.#call('POST', '/api/v1/namespaces', () => this.#api.createNamespace({ body }));
    return toNamespace(ns, 'response', 'POST /api/v1/namespaces');
  }

  /**
   * Deletes the namespace and everything in it; false when there was none. The API server
   * answers at once, the namespace then is Terminating until its finalizers ran.
   */
  async deleteNamespace(name: string): Promise<boolean> {
    const path = `/api/v1/namespaces/${name}`;
    return this.#call('DELETE', path, async () => (await this.#api.deleteNamespace({ name }), true), { notFound: false });
  }

  /** Creates the namespace unless it exists. */
  async ensureNamespace(name: string, labels: Record<string, string> = {}): Promise<void> {
    try {
      await this.#api.createNamespace({ body: { apiVersion: 'v1', kind: 'Namespace', metadata: { name, labels } } });
    } catch (error) {
      if (error instanceof ApiException && error.code === 409) return;
      throw this.#error('POST', '/api/v1/namespaces', error);
    }
  }

  async #call<T, F = never>(method: string, path: string, run: () => Promise<T>, on404?: { notFound: F }): Promise<T | F> {
    try {
      return await run();
    } catch (error) {
      if (on404 && error instanceof ApiException && error.code === 404) return on404.notFound;
      throw this.#error(method, path, error);
    }
  }

  #error(method: string, path: string, error: unknown): Error {
    if (error instanceof UpstreamError || error instanceof ValidationError) return error;
    if (error instanceof ApiException) {
      const detail = statusMessage(error.body);
      return new UpstreamError(
        `Kubernetes: ${method} ${path} answered ${error.code}${detail ? `: ${detail}` : ''}`,
        'Kubernetes',
        method,
        path,
        error.code,
        { cause: error },
      );
    }
    const cause = error instanceof Error && error.cause instanceof Error ? ` (${error.cause.message})` : '';
    const message = error instanceof Error ? error.message : String(error);
    return new UpstreamError(`Kubernetes: ${method} ${path} failed: ${message}${cause}`, 'Kubernetes', method, path, undefined, {
      cause: error,
    });
  }
}

// A Kubernetes error body is a Status object: {"kind": "Status", "reason": "NotFound", "message": "..."}.
function statusMessage(body: unknown): string | undefined {
  let value = body;
  if (typeof body === 'string') {
    try {
      value = JSON.parse(body);
    } catch {
      return body.slice(0, 200) || undefined;
    }
  }
  if (typeof value === 'object' && value !== null && 'message' in value && typeof value.message === 'string') return value.message;
  return undefined;
}

function required(value: string | undefined, path: string, call: string): string {
  if (typeof value !== 'string' || !value) {
    throw new UpstreamError(
      `Kubernetes: ${call} sent an unexpected body: ${path}: expected a non-empty string, got ${value === undefined ? 'nothing' : JSON.stringify(value)}`,
      'Kubernetes',
      call.split(' ')[0] ?? '',
      call.split(' ')[1] ?? '',
    );
  }
  return value;
}

function toNode(node: V1Node, path: string, call: string): KubeNode {
  const labels = node.metadata?.labels ?? {};
  const info = node.status?.nodeInfo;
  return {
    name: required(node.metadata?.name, `${path}.metadata.name`, call),
    uid: node.metadata?.uid,
    labels,
    ready: node.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false,
    arch: labels['kubernetes.io/arch'] ?? info?.architecture,
    kubeletVersion: info?.kubeletVersion,
    osImage: info?.osImage,
    addresses: (node.status?.addresses ?? []).map((a) => ({ type: a.type, address: a.address })),
    createdAt: node.metadata?.creationTimestamp,
  };
}

function toPod(pod: V1Pod, path: string, call: string): KubePod {
  const statuses = pod.status?.containerStatuses ?? [];
  const containers = pod.spec?.containers ?? [];
  return {
    name: required(pod.metadata?.name, `${path}.metadata.name`, call),
    namespace: required(pod.metadata?.namespace, `${path}.metadata.namespace`, call),
    labels: pod.metadata?.labels ?? {},
    nodeName: pod.spec?.nodeName,
    phase: pod.status?.phase,
    podIP: pod.status?.podIP,
    ready: statuses.length > 0 && statuses.length >= containers.length && statuses.every((s) => s.ready),
    restarts: statuses.reduce((sum, s) => sum + (s.restartCount ?? 0), 0),
    containers: containers.map((c) => c.name),
    createdAt: pod.metadata?.creationTimestamp,
  };
}

function toNamespace(ns: V1Namespace, path: string, call: string): KubeNamespace {
  return {
    name: required(ns.metadata?.name, `${path}.metadata.name`, call),
    phase: ns.status?.phase,
    labels: ns.metadata?.labels ?? {},
    createdAt: ns.metadata?.creationTimestamp,
  };
}
