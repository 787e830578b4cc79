import type { IncomingMessage, ServerResponse } from 'node:http';
import { isRecord, isStringRecord, readJson, sendJson } from './http.ts';
import type { Json, JsonObject, KubeObject } from './model.ts';
import { KUBELET_VERSION } from './seed.ts';
import { matchesSelector, parseFieldSelector, parseLabelSelector, SelectorError, type Requirement } from './selectors.ts';
import { asObject, newUid, podNodeName, podPhase, type CloudState, type KubeResource, type Result, type WatchType } from './state.ts';

const kinds: Record<KubeResource, { kind: string; list: string; fields: readonly string[] }> = {
  nodes: { kind: 'Node', list: 'NodeList', fields: ['metadata.name'] },
  pods: { kind: 'Pod', list: 'PodList', fields: ['metadata.name', 'metadata.namespace', 'spec.nodeName', 'status.phase'] },
  namespaces: { kind: 'Namespace', list: 'NamespaceList', fields: ['metadata.name', 'status.phase'] },
};

const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/;
const MERGE_PATCH_TYPES = ['application/merge-patch+json', 'application/strategic-merge-patch+json'];

/** Core v1 of the Kubernetes API: nodes, pods and namespaces, with selectors and `?watch=1`. */
export function kubernetesHandler(state: CloudState) {
  return async (req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> => {
    const method = req.method ?? 'GET';
    const path = url.pathname.replace(/\/+$/, '');
    if (path === '/version' && method === 'GET') {
      return sendJson(res, 200, { major: '1', minor: '30', gitVersion: KUBELET_VERSION, platform: 'linux/amd64' });
    }
    const parts = path.split('/').slice(1);
    if (parts[0] !== 'api' || parts[1] !== 'v1') return status(res, 404, 'NotFound', 'the server could not find the requested resource');
    const [resource, name, sub, subName, ...extra] = parts.slice(2);
    if (extra.length) return status(res, 404, 'NotFound', 'the server could not find the requested resource');

    if (resource === 'nodes') {
      if (name === undefined) {
        if (method === 'GET') return list(req, res, url, 'nodes', [...state.nodes.values()]);
        if (method === 'POST') return create(req, res, 'nodes', undefined, (object) => state.createNode(object));
      } else if (sub === undefined) {
        const node = state.nodes.get(name);
        if (method === 'GET') return node ? sendJson(res, 200, node) : notFound(res, 'nodes', name);
        if (method === 'PATCH') return node ? patchNode(req, res, node) : notFound(res, 'nodes', name);
        if (method === 'DELETE') {
          const result = state.deleteNode(name);
          if (!result.ok) return failure(res, result, 'nodes', name);
          return sendJson(res, 200, {
            kind: 'Status',
            apiVersion: 'v1',
            metadata: {},
            status: 'Success',
            details: { name, kind: 'nodes', uid: result.value.metadata.uid },
          });
        }
      }
    } else if (resource === 'pods' && name === undefined && method === 'GET') {
      return list(req, res, url, 'pods', [...state.pods.values()]);
    } else if (resource === 'namespaces') {
      if (name === undefined) {
        if (method === 'GET') return list(req, res, url, 'namespaces', [...state.namespaces.values()]);
        if (method === 'POST') return create(req, res, 'namespaces', undefined, (object) => state.createNamespace(object));
      } else if (sub === undefined) {
        const ns = state.namespaces.get(name);
        if (method === 'GET') return ns ? sendJson(res, 200, ns) : notFound(res, 'namespaces', name);
        if (method === 'DELETE') {
          const result = state.deleteNamespace(name);
          return result.ok ? sendJson(res, 200, result.value) : failure(res, result, 'namespaces', name);
        }
      } else if (sub === 'pods') {
        const inNamespace = [...state.pods.values()].filter((p) => p.metadata['namespace'] === name);
        if (subName === undefined) {
          if (method === 'GET') return list(req, res, url, 'pods', inNamespace);
          if (method === 'POST') return create(req, res, 'pods', name, (object) => state.createPod(object));
        } else {
          const pod = inNamespace.find((p) => p.metadata.name === subName);
          if (method === 'GET') return pod ? sendJson(res, 200, pod) : notFound(res, 'pods', subName);
          if (method === 'DELETE') {
            const result = state.deletePod(name, subName);
            return result.ok ? sendJson(res, 200, result.value) : failure(res, result, 'pods', subName);
          }
        }
      }
    }
    return status(res, 405, 'MethodNotAllowed', `the server does not allow this method on the requested resource`);
  };

  function list(req: IncomingMessage, res: ServerResponse, url: URL, resource: KubeResource, items: KubeObject[]): void {
    let labels: Requirement[];
    let fields: Requirement[];
    try {
      labels = parseLabelSelector(url.searchParams.get('labelSelector') ?? '');
      fields = parseFieldSelector(url.searchParams.get('fieldSelector') ?? '', kinds[resource].fields);
    } catch (error) {
      if (error instanceof SelectorError) return status(res, 400, 'BadRequest', error.message);
      throw error;
    }
    const matches = (o: KubeObject) => matchesSelector(labels, o.metadata.labels) && matchesSelector(fields, fieldsOf(o));
    const watch = url.searchParams.get('watch');
    if (watch === '1' || watch === 'true') return streamWatch(req, res, url, resource, matches);
    sendJson(res, 200, {
      kind: kinds[resource].list,
      apiVersion: 'v1',
      metadata: { resourceVersion: state.resourceVersion },
      items: items.filter(matches),
    });
  }

  // Newline-delimited {"type", "object"} events until the client goes away or timeoutSeconds pass.
  function streamWatch(
    req: IncomingMessage,
    res: ServerResponse,
    url: URL,
    resource: KubeResource,
    matches: (o: KubeObject) => boolean,
  ): void {
    const namespace = url.pathname.split('/')[4];
    const scoped = url.pathname.startsWith('/api/v1/namespaces/') ? namespace : undefined;
    res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-cache' });
    res.flushHeaders();
    const onEvent = (changed: KubeResource, type: WatchType, object: KubeObject) => {
      if (changed !== resource || !matches(object) || (scoped && object.metadata['namespace'] !== scoped)) return;
      res.write(`${JSON.stringify({ type, object })}\n`);
    };
    state.on('kube', onEvent);
    const timeoutSeconds = Number(url.searchParams.get('timeoutSeconds') ?? 0);
    const timer = timeoutSeconds > 0 ? setTimeout(() => res.end(), timeoutSeconds * 1000) : undefined;
    const stop = () => {
      state.off('kube', onEvent);
      clearTimeout(timer);
    };
    req.on('close', stop);
    res.on('close', stop);
  }

  async function create(
    req: IncomingMessage,
    res: ServerResponse,
    resource: KubeResource,
    namespace: string | undefined,
    store: (o: KubeObject) => Result<KubeObject>,
  ): Promise<void> {
    const body = await readJson(req);
    if (!body.ok) return status(res, 400, 'BadRequest', `the body of the request was in an unknown format: ${body.error}`);
    const object = toObject(body.value, resource, namespace);
    if (typeof object === 'string') return status(res, 422, 'Invalid', object, { kind: resource });
    const result = store(object);
    if (!result.ok) return failure(res, result, resource, object.metadata.name);
    sendJson(res, 201, result.value);
  }

  async function patchNode(req: IncomingMessage, res: ServerResponse, node: KubeObject): Promise<void> {
    const type = (req.headers['content-type'] ?? '').split(';')[0]!.trim();
    if (!MERGE_PATCH_TYPES.includes(type)) {
      return status(
        res,
        415,
        'UnsupportedMediaType',
        `the body of the request was in an unknown format - accepted media types include: ${MERGE_PATCH_TYPES.join(', ')}`,
      );
    }
    const body = await readJson(req);
    if (!body.ok) return status(res, 400, 'BadRequest', `the body of the request was in an unknown format: ${body.error}`);
    if (!isRecord(body.value)) return status(res, 400, 'BadRequest', 'a merge patch must be a JSON object');
    const patched = mergePatch(node, body.value as Json);
    const metadata = asObject(asObject(patched)['metadata']);
    if (metadata['name'] !== node.metadata.name)
      return status(res, 422, 'Invalid', `Node "${node.metadata.name}" is invalid: metadata.name: field is immutable`, {
        name: node.metadata.name,
        kind: 'nodes',
      });
    const labels = metadata['labels'] ?? {};
    if (!isStringRecord(labels))
      return status(res, 422, 'Invalid', `Node "${node.metadata.name}" is invalid: metadata.labels: values must be strings`, {
        name: node.metadata.name,
        kind: 'nodes',
      });
    sendJson(
      res,
      200,
      state.replaceNode({ ...(patched as KubeObject), metadata: { ...node.metadata, ...metadata, labels } as KubeObject['metadata'] }),
    );
  }
}

/** Checks a created object and fills in what the API server sets; a string is the 422 message. */
function toObject(value: unknown, resource: KubeResource, namespace: string | undefined): KubeObject | string {
  const { kind } = kinds[resource];
  if (!isRecord(value)) return `${kind} is invalid: the body must be a JSON object`;
  if (value['kind'] !== undefined && value['kind'] !== kind)
    return `${kind} is invalid: kind: Invalid value: ${JSON.stringify(value['kind'])}`;
  const metadata = value['metadata'];
  if (!isRecord(metadata)) return `${kind} is invalid: metadata: Required value`;
  const name = metadata['name'];
  if (typeof name !== 'string' || !name) return `${kind} is invalid: metadata.name: Required value: name is required`;
  if (name.length > 253 || !DNS_SUBDOMAIN.test(name))
    return `${kind} "${name}" is invalid: metadata.name: Invalid value: "${name}": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.'`;
  const labels = metadata['labels'] ?? {};
  if (!isStringRecord(labels)) return `${kind} "${name}" is invalid: metadata.labels: values must be strings`;
  const annotations = metadata['annotations'] ?? {};
  if (!isStringRecord(annotations)) return `${kind} "${name}" is invalid: metadata.annotations: values must be strings`;
  if (namespace !== undefined && metadata['namespace'] !== undefined && metadata['namespace'] !== namespace) {
    return `${kind} "${name}" is invalid: metadata.namespace: the namespace of the object does not match the namespace on the request`;
  }
  const spec = value['spec'];
  if (resource === 'pods') {
    const containers = isRecord(spec) ? spec['containers'] : undefined;
    if (
      !Array.isArray(containers) ||
      !containers.length ||
      !containers.every((c) => isRecord(c) && typeof c['name'] === 'string' && typeof c['image'] === 'string')
    ) {
      return `Pod "${name}" is invalid: spec.containers: Required value: each container needs a name and an image`;
    }
  }
  return {
    apiVersion: 'v1',
    kind,
    metadata: {
      name,
      ...(namespace !== undefined ? { namespace } : {}),
      uid: newUid(),
      resourceVersion: '0',
      creationTimestamp: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
      labels,
      ...(Object.keys(annotations).length ? { annotations } : {}),
    },
    spec: (isRecord(spec) ? spec : {}) as JsonObject,
  };
}

/** RFC 7386 JSON merge patch. */
function mergePatch(target: Json | undefined, patch: Json): Json {
  if (typeof patch !== 'object' || patch === null || Array.isArray(patch)) return patch;
  const result: JsonObject = { ...asObject(target) };
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) delete result[key];
    else result[key] = mergePatch(result[key], value);
  }
  return result;
}

function fieldsOf(object: KubeObject): Record<string, string | undefined> {
  const namespace = object.metadata['namespace'];
  return {
    'metadata.name': object.metadata.name,
    'metadata.namespace': typeof namespace === 'string' ? namespace : undefined,
    'spec.nodeName': object.kind === 'Pod' ? (podNodeName(object) ?? '') : undefined,
    'status.phase': object.kind === 'Pod' ? podPhase(object) : (asObject(object.status)['phase'] as string | undefined),
  };
}

function status(res: ServerResponse, code: number, reason: string, message: string, details?: Record<string, string>): void {
  sendJson(res, code, {
    kind: 'Status',
    apiVersion: 'v1',
    metadata: {},
    status: 'Failure',
    message,
    reason,
    ...(details ? { details } : {}),
    code,
  });
}

function notFound(res: ServerResponse, resource: KubeResource, name: string): void {
  status(res, 404, 'NotFound', `${resource} "${name}" not found`, { name, kind: resource });
}

function failure(res: ServerResponse, result: Extract<Result<unknown>, { ok: false }>, resource: KubeResource, name: string): void {
  const code = result.reason === 'NotFound' ? 404 : result.reason === 'AlreadyExists' ? 409 : 422;
  status(res, code, result.reason, result.message, { name, kind: resource });
}
