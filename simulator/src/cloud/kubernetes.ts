import type { ServerResponse } from 'node:http';
import { RouteTable } from '#kit';
import { BadRequest, HttpError, Invalid, MethodNotAllowed, NotFound, UnsupportedMediaType } from './errors.ts';
import {
  isRecord,
  isStringRecord,
  readJson,
  routed,
  sendJson,
  withoutTrailingSlash,
  type Answer,
  type Exchange,
  type Handler,
} from './http.ts';
import type { Json, JsonObject, KubeObject } from './model.ts';
import { KUBELET_VERSION } from './seed.ts';
import { matchesSelector, parseFieldSelector, parseLabelSelector } from './selectors.ts';
import { asObject, newUid, podNodeName, podPhase, type CloudState, type KubeResource, type WatchType } from './state.ts';

const kinds: Record<KubeResource, { kind: string; list: string; fields: readonly string[] }> = {
  nodes: { kind: 'Node', list: 'NodeList', fields: ['metadata.name'] },
  pods: { kind: 'Pod', list: 'PodList', fields: ['metadata.name', 'metadata.namespace', 'spec.nodeName', 'status.phase'] },
  namespaces: { kind: 'Namespace', list: 'NamespaceList', fields: ['metadata.name', 'status.phase'] },
};

const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/;
const MERGE_PATCH_TYPES = ['application/merge-patch+json', 'application/strategic-merge-patch+json'];
const unknownFormat = (problem: string) => `the body of the request was in an unknown format: ${problem}`;

/** Core v1 of the Kubernetes API: nodes, pods and namespaces, with selectors and `?watch=1`. */
export function kubernetesHandler(state: CloudState): Handler {
  const podsIn = (namespace: string) => [...state.pods.values()].filter((p) => p.metadata['namespace'] === namespace);

  // A name may be empty (`/api/v1/namespaces//pods`): the object named "" is not found, or has no pods.
  const routes = new RouteTable<Exchange, Answer>({ emptyParams: true })
    .on('GET', '/version', ({ res }) =>
      sendJson(res, 200, { major: '1', minor: '30', gitVersion: KUBELET_VERSION, platform: 'linux/amd64' }),
    )
    .on('GET', '/api/v1/nodes', (exchange) => list(exchange, 'nodes', [...state.nodes.values()]))
    .on('POST', '/api/v1/nodes', (exchange) => create(exchange, 'nodes', undefined, (object) => state.createNode(object)))
    .on('GET', '/api/v1/nodes/{name}', ({ res }, { name }) => sendJson(res, 200, existing(state.nodes.get(name), 'nodes', name)))
    .on('PATCH', '/api/v1/nodes/{name}', (exchange, { name }) => patchNode(exchange, existing(state.nodes.get(name), 'nodes', name)))
    .on('DELETE', '/api/v1/nodes/{name}', ({ res }, { name }) => {
      const node = about(() => state.deleteNode(name), 'nodes', name);
      sendJson(res, 200, {
        kind: 'Status',
        apiVersion: 'v1',
        metadata: {},
        status: 'Success',
        details: { name, kind: 'nodes', uid: node.metadata.uid },
      });
    })
    .on('GET', '/api/v1/pods', (exchange) => list(exchange, 'pods', [...state.pods.values()]))
    .on('GET', '/api/v1/namespaces', (exchange) => list(exchange, 'namespaces', [...state.namespaces.values()]))
    .on('POST', '/api/v1/namespaces', (exchange) => create(exchange, 'namespaces', undefined, (object) => state.createNamespace(object)))
    .on('GET', '/api/v1/namespaces/{name}', ({ res }, { name }) =>
      sendJson(res, 200, existing(state.namespaces.get(name), 'namespaces', name)),
    )
    .on('DELETE', '/api/v1/namespaces/{name}', ({ res }, { name }) => {
      const namespace = about(() => state.deleteNamespace(name), 'namespaces', name);
      sendJson(res, 200, namespace);
    })
    .on('GET', '/api/v1/namespaces/{namespace}/pods', (exchange, { namespace }) => list(exchange, 'pods', podsIn(namespace), namespace))
    .on('POST', '/api/v1/namespaces/{namespace}/pods', (exchange, { namespace }) =>
      create(exchange, 'pods', namespace, (object) => state.createPod(object)),
    )
    .on('GET', '/api/v1/namespaces/{namespace}/pods/{name}', ({ res }, { namespace, name }) => {
      const pod = podsIn(namespace).find((p) => p.metadata.name === name);
      sendJson(res, 200, existing(pod, 'pods', name));
    })
    .on('DELETE', '/api/v1/namespaces/{namespace}/pods/{name}', ({ res }, { namespace, name }) => {
      const pod = about(() => state.deletePod(namespace, name), 'pods', name);
      sendJson(res, 200, pod);
    });
  // Any other method, resource or subresource of core v1, to four segments deep: 405.
  for (const template of [
    '/api/v1',
    '/api/v1/{resource}',
    '/api/v1/{resource}/{name}',
    '/api/v1/{resource}/{name}/{subresource}',
    '/api/v1/{resource}/{name}/{subresource}/{subname}',
  ]) {
    routes.on('*', template, () => {
      throw new MethodNotAllowed('the server does not allow this method on the requested resource');
    });
  }

  return routed({
    routes,
    path: withoutTrailingSlash,
    unmatched: () => {
      throw new NotFound('the server could not find the requested resource');
    },
    tell: tellStatus,
  });

  function list(exchange: Exchange, resource: KubeResource, items: KubeObject[], namespace?: string): void {
    const { url } = exchange;
    const labels = parseLabelSelector(url.searchParams.get('labelSelector') ?? '');
    const fields = parseFieldSelector(url.searchParams.get('fieldSelector') ?? '', kinds[resource].fields);
    const matches = (o: KubeObject) => matchesSelector(labels, o.metadata.labels) && matchesSelector(fields, fieldsOf(o));
    const watch = url.searchParams.get('watch');
    if (watch === '1' || watch === 'true') return streamWatch(exchange, resource, matches, namespace);
    sendJson(exchange.res, 200, {
      kind: kinds[resource].list,
      apiVersion: 'v1',
      metadata: { resourceVersion: state.resourceVersion },
      items: items.filter(matches),
    });
  }

  // Newline-delimited {"type", "object"} events until the client goes away or timeoutSeconds pass.
  function streamWatch({ req, res, url }: Exchange, resource: KubeResource, matches: (o: KubeObject) => boolean, namespace?: string): void {
    res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-cache' });
    res.flushHeaders();
    const onEvent = (changed: KubeResource, type: WatchType, object: KubeObject) => {
      if (changed !== resource || !matches(object) || (namespace && object.metadata['namespace'] !== namespace)) return;
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
    { req, res }: Exchange,
    resource: KubeResource,
    namespace: string | undefined,
    store: (o: KubeObject) => KubeObject,
  ): Promise<void> {
    const object = toObject(await readJson(req, unknownFormat), resource, namespace);
    sendJson(
      res,
      201,
      about(() => store(object), resource, object.metadata.name),
    );
  }

  async function patchNode({ req, res }: Exchange, node: KubeObject): Promise<void> {
    const type = (req.headers['content-type'] ?? '').split(';')[0]!.trim();
    if (!MERGE_PATCH_TYPES.includes(type)) {
      throw new UnsupportedMediaType(
        `the body of the request was in an unknown format - accepted media types include: ${MERGE_PATCH_TYPES.join(', ')}`,
      );
    }
    const body = await readJson(req, unknownFormat);
    if (!isRecord(body)) throw new BadRequest('a merge patch must be a JSON object');
    const patched = mergePatch(node, body as Json);
    const metadata = asObject(asObject(patched)['metadata']);
    const details = { name: node.metadata.name, kind: 'nodes' };
    if (metadata['name'] !== node.metadata.name)
      throw new Invalid(`Node "${node.metadata.name}" is invalid: metadata.name: field is immutable`, details);
    const labels = metadata['labels'] ?? {};
    if (!isStringRecord(labels))
      throw new Invalid(`Node "${node.metadata.name}" is invalid: metadata.labels: values must be strings`, details);
    sendJson(
      res,
      200,
      state.replaceNode({ ...(patched as KubeObject), metadata: { ...node.metadata, ...metadata, labels } as KubeObject['metadata'] }),
    );
  }
}

/** Checks a created object and fills in what the API server sets; `Invalid` (422) says what is wrong. */
function toObject(value: unknown, resource: KubeResource, namespace: string | undefined): KubeObject {
  const invalid = (message: string) => new Invalid(message, { kind: resource });
  const { kind } = kinds[resource];
  if (!isRecord(value)) throw invalid(`${kind} is invalid: the body must be a JSON object`);
  if (value['kind'] !== undefined && value['kind'] !== kind)
    throw invalid(`${kind} is invalid: kind: Invalid value: ${JSON.stringify(value['kind'])}`);
  const metadata = value['metadata'];
  if (!isRecord(metadata)) throw invalid(`${kind} is invalid: metadata: Required value`);
  const name = metadata['name'];
  if (typeof name !== 'string' || !name) throw invalid(`${kind} is invalid: metadata.name: Required value: name is required`);
  if (name.length > 253 || !DNS_SUBDOMAIN.test(name))
    throw invalid(
      `${kind} "${name}" is invalid: metadata.name: Invalid value: "${name}": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.'`,
    );
  const labels = metadata['labels'] ?? {};
  if (!isStringRecord(labels)) throw invalid(`${kind} "${name}" is invalid: metadata.labels: values must be strings`);
  const annotations = metadata['annotations'] ?? {};
  if (!isStringRecord(annotations)) throw invalid(`${kind} "${name}" is invalid: metadata.annotations: values must be strings`);
  if (namespace !== undefined && metadata['namespace'] !== undefined && metadata['namespace'] !== namespace) {
    throw invalid(
      `${kind} "${name}" is invalid: metadata.namespace: the namespace of the object does not match the namespace on the request`,
    );
  }
  const spec = value['spec'];
  if (resource === 'pods') {
    const containers = isRecord(spec) ? spec['containers'] : undefined;
    if (
      !Array.isArray(containers) ||
      !containers.length ||
      !containers.every((c) => isRecord(c) && typeof c['name'] === 'string' && typeof c['image'] === 'string')
    ) {
      throw invalid(`Pod "${name}" is invalid: spec.containers: Required value: each container needs a name and an image`);
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

/** An `HttpError` as the API server tells it: a `Status` of `Failure` with its reason and code. */
function tellStatus(res: ServerResponse, error: HttpError): void {
  sendJson(res, error.status, {
    kind: 'Status',
    apiVersion: 'v1',
    metadata: {},
    status: 'Failure',
    message: error.message,
    reason: error.reason,
    ...(error.details ? { details: error.details } : {}),
    code: error.status,
  });
}

/** The object, or a 404 about it. */
function existing(object: KubeObject | undefined, resource: KubeResource, name: string): KubeObject {
  if (!object) throw new NotFound(`${resource} "${name}" not found`, { name, kind: resource });
  return object;
}

/** Runs a change of the state; its refusal is told about `name` of `resource` (`Status.details`). */
function about<T>(change: () => T, resource: KubeResource, name: string): T {
  try {
    return change();
  } catch (error) {
    throw error instanceof HttpError ? error.with({ details: { name, kind: resource } }) : error;
  }
}
