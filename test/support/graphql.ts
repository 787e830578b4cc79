import { createClient, type Client } from 'graphql-ws';
import WebSocket from 'ws';

export interface GraphQLResponse<T = Record<string, any>> {
  status: number;
  data?: T | null;
  errors?: Array<{ message: string; path?: Array<string | number>; extensions?: { code?: string; [key: string]: unknown } }>;
}

/** Who calls: a JWT (`Authorization: Bearer`), a partner API key (`x-api-key`), or nobody. */
export interface Credentials {
  token?: string;
  apiKey?: string;
}

function credentialHeaders({ token, apiKey }: Credentials = {}): Record<string, string> {
  return { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(apiKey ? { 'x-api-key': apiKey } : {}) };
}

/** POSTs one operation as a partner app would. */
export async function graphql<T = Record<string, any>>(
  url: string,
  query: string,
  variables?: Record<string, unknown>,
  credentials?: Credentials,
): Promise<GraphQLResponse<T>> {
  const response = await fetch(url, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      accept: 'application/graphql-response+json, application/json',
      ...credentialHeaders(credentials),
    },
    body: JSON.stringify({ query, variables }),
  });
  const body = (await response.json()) as Omit<GraphQLResponse<T>, 'status'>;
  return { status: response.status, ...body };
}

/** A graphql-ws client of `url` (http: is turned into ws:); credentials go in `connectionParams`. */
export function wsClient(url: string, credentials?: Credentials): Client {
  return createClient({
    url: url.replace(/^http/, 'ws'),
    webSocketImpl: WebSocket,
    retryAttempts: 0,
    lazy: true,
    connectionParams: credentialHeaders(credentials),
  });
}

/** Collects `count` results of a subscription, or rejects after `timeoutMs`. */
export function take<T = Record<string, any>>(
  client: Client,
  query: string,
  count: number,
  timeoutMs = 15_000,
  variables?: Record<string, unknown>,
): Promise<Array<{ data?: T | null; errors?: unknown }>> {
  return new Promise((resolve, reject) => {
    const results: Array<{ data?: T | null; errors?: unknown }> = [];
    const timer = setTimeout(() => {
      dispose();
      reject(new Error(`only ${results.length} of ${count} events within ${timeoutMs} ms`));
    }, timeoutMs);
    const dispose = client.subscribe<T>(
      { query, variables },
      {
        next: (result) => {
          results.push(result as { data?: T | null; errors?: unknown });
          if (results.length >= count) {
            clearTimeout(timer);
            dispose();
            resolve(results);
          }
        },
        error: (error) => {
          clearTimeout(timer);
          reject(error instanceof Error ? error : new Error(JSON.stringify(error)));
        },
        complete: () => {
          clearTimeout(timer);
          if (results.length < count) reject(new Error(`subscription completed after ${results.length} of ${count} events`));
        },
      },
    );
  });
}

/** Retries `probe` until it returns something truthy. */
export async function eventually<T>(probe: () => Promise<T | undefined | null | false>, timeoutMs = 15_000, intervalMs = 100): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  while (Date.now() < deadline) {
    try {
      const value = await probe();
      if (value) return value;
    } catch (error) {
      lastError = error;
    }
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
  throw new Error(`condition not met within ${timeoutMs} ms${lastError ? `: ${String(lastError)}` : ''}`);
}
