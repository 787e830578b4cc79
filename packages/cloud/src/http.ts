import { ValidationError, type Check } from './validate.ts';

/** The systems we call, as they appear in error messages. */
export type SystemName = 'Keystone' | 'Nova' | 'Neutron' | 'Contrail' | 'Kubernetes';

/**
 * A call to an external system failed: it was unreachable, answered with a non-2xx status, or
 * sent a body we could not understand. The message names the system, method, path and status.
 */
export class UpstreamError extends Error {
  override name = 'UpstreamError';
  constructor(
    message: string,
    readonly system: SystemName,
    readonly method: string,
    readonly path: string,
    /** HTTP status; undefined when there was no answer. */
    readonly status?: number,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

export interface JsonRequest {
  system: SystemName;
  method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  url: string;
  headers?: Record<string, string>;
  body?: unknown;
  /** Aborts the call after this long. */
  timeoutMs: number;
  fetch: typeof fetch;
}

export interface JsonResponse {
  status: number;
  headers: Headers;
  /** Parsed JSON; undefined for an empty body. */
  body: unknown;
}

/** Sends one request and parses the JSON answer; any non-2xx status throws an `UpstreamError`. */
export async function requestJson(request: JsonRequest): Promise<JsonResponse> {
  const { system, method } = request;
  const path = new URL(request.url).pathname;
  const headers: Record<string, string> = { accept: 'application/json', ...request.headers };
  if (request.body !== undefined) headers['content-type'] ??= 'application/json';
  let response: Response;
  let text: string;
  try {
    response = await request.fetch(request.url, {
      method,
      headers,
      body: request.body === undefined ? undefined : JSON.stringify(request.body),
      signal: AbortSignal.timeout(request.timeoutMs),
    });
    text = await response.text();
  } catch (error) {
    const reason = error instanceof Error ? (causeMessage(error) ?? error.message) : String(error);
    throw new UpstreamError(`${system}: ${method} ${path} failed: ${reason}`, system, method, path, undefined, { cause: error });
  }
  if (response.status < 200 || response.status > 299) {
    const detail = errorDetail(text);
    throw new UpstreamError(
      `${system}: ${method} ${path} answered ${response.status}${detail ? `: ${detail}` : ''}`,
      system,
      method,
      path,
      response.status,
    );
  }
  if (!text.trim()) return { status: response.status, headers: response.headers, body: undefined };
  try {
    return { status: response.status, headers: response.headers, body: JSON.parse(text) as unknown };
  } catch {
    throw new UpstreamError(
      `${system}: ${method} ${path} answered ${response.status} with a body that is not JSON`,
      system,
      method,
      path,
      response.status,
    );
  }
}

/** Validates a parsed body; a mismatch becomes an `UpstreamError` saying what was wrong. */
export function validateBody<T>(check: Check<T>, body: unknown, request: Pick<JsonRequest, 'system' | 'method' | 'url'>): T {
  try {
    return check(body, 'response');
  } catch (error) {
    if (!(error instanceof ValidationError)) throw error;
    const path = new URL(request.url).pathname;
    throw new UpstreamError(
      `${request.system}: ${request.method} ${path} sent an unexpected body: ${error.message}`,
      request.system,
      request.method,
      path,
    );
  }
}

// fetch() wraps the socket error ("connect ECONNREFUSED 127.0.0.1:1") in a generic "fetch failed".
function causeMessage(error: Error): string | undefined {
  const cause: unknown = error.cause;
  if (cause instanceof Error) return `${error.message} (${cause.message})`;
  if (error.name === 'TimeoutError') return 'timed out';
  return undefined;
}

// Keystone: {"error": {"message"}}; Kubernetes: Status {"message"}; Neutron: {"NeutronError": {"message"}};
// Nova: {"itemNotFound": {"message"}}; Contrail: plain text.
function errorDetail(text: string): string {
  const trimmed = text.trim();
  if (!trimmed) return '';
  try {
    const body: unknown = JSON.parse(trimmed);
    const message = findMessage(body, 2);
    if (message) return message;
  } catch {
    // not JSON: Contrail and proxies answer with text
  }
  return trimmed.length > 200 ? `${trimmed.slice(0, 200)}...` : trimmed;
}

function findMessage(value: unknown, depth: number): string | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const record = value as Record<string, unknown>;
  if (typeof record.message === 'string') return record.message;
  if (depth === 0) return undefined;
  for (const nested of Object.values(record)) {
    const message = findMessage(nested, depth - 1);
    if (message) return message;
  }
  return undefined;
}
