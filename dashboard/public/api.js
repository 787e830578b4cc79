// The dashboard's only way to the platform: the GraphQL endpoint, over HTTP for queries and
// graphql-ws for live readings.
import { createClient } from 'graphql-ws';

/**
 * @typedef {{ time: string, value: number, cursor: string | null, sensor: { id: string } }} Reading
 * @typedef {'connecting' | 'live' | 'reconnecting'} ConnectionState
 */

/**
 * The dashboard's credentials, from the page's fragment: `#token=<jwt>` (a user's or an operator's
 * token; `npm start` prints such a link) or `#key=<api key>` (a partner's, open data only). A
 * fragment never reaches a server or its logs; the page keeps what it was given for the tab's
 * session and removes it from the address bar. Both null: the dashboard shows open data only.
 * @returns {{ token: string | null, apiKey: string | null }}
 */
export function storedCredentials() {
  const fragment = new URLSearchParams(location.hash.slice(1));
  const token = fragment.get('token');
  const key = fragment.get('key');
  if (token || key) {
    // New credentials replace the old ones of either kind.
    sessionStorage.removeItem('iot-token');
    sessionStorage.removeItem('iot-api-key');
    if (token) sessionStorage.setItem('iot-token', token);
    else if (key) sessionStorage.setItem('iot-api-key', key);
    history.replaceState(null, '', location.pathname + location.search);
  }
  return { token: sessionStorage.getItem('iot-token'), apiKey: sessionStorage.getItem('iot-api-key') };
}

/** @returns {Record<string, string>} the headers (and graphql-ws connection params) that carry them */
function credentials() {
  const { token, apiKey } = storedCredentials();
  if (token) return { authorization: `Bearer ${token}` };
  if (apiKey) return { 'x-api-key': apiKey };
  return {};
}

/**
 * @typedef {{ kind: 'user' | 'apiKey' | 'anonymous', label: string, may: (scope: string) => boolean }} CallerView
 */

/**
 * Who the page signs in as, and what it may therefore ask for: from the token's own claims
 * (`scope` or `scopes`, `tenant`; read, not verified: the API checks every request and holds the
 * walls, this only spares the caller panels it would be refused). Open data (`opendata:read`) is
 * everyone's; an API key reads open data only, as an anonymous caller does.
 * @returns {CallerView}
 */
export function callerView() {
  const { token, apiKey } = storedCredentials();
  if (token) {
    const claims = jwtClaims(token);
    const scopes = new Set(typeof claims.scope === 'string' ? claims.scope.split(' ') : Array.isArray(claims.scopes) ? claims.scopes : []);
    const admin = scopes.has('admin');
    const tenant = typeof claims.tenant === 'string' ? claims.tenant : null;
    return {
      kind: 'user',
      label: admin ? 'operator (every tenant)' : tenant ? `tenant ${tenant}` : 'signed in',
      may: (scope) => scope === 'opendata:read' || admin || scopes.has(scope),
    };
  }
  const openDataOnly = (/** @type {string} */ scope) => scope === 'opendata:read';
  if (apiKey) return { kind: 'apiKey', label: 'partner API key: open data', may: openDataOnly };
  return { kind: 'anonymous', label: 'not signed in: open data', may: openDataOnly };
}

/** A JWT's payload, or `{}` when it is not one. */
function jwtClaims(/** @type {string} */ token) {
  try {
    const payload = token.split('.')[1] ?? '';
    const json = atob(
      payload
        .replace(/-/g, '+')
        .replace(/_/g, '/')
        .padEnd(Math.ceil(payload.length / 4) * 4, '='),
    );
    const claims = JSON.parse(new TextDecoder().decode(Uint8Array.from(json, (c) => c.charCodeAt(0))));
    return claims && typeof claims === 'object' ? claims : {};
  } catch {
    return {};
  }
}

/**
 * The endpoint named by `?api=<url>` when it is on the page's own origin or one the server lists
 * (`DASHBOARD_API_ORIGINS`, in the page's `iot-api-origins` meta), else `/graphql` of the page's
 * own origin: the token is never sent to an origin nobody allowed.
 */
export function apiEndpoint() {
  const own = new URL('/graphql', location.href).href;
  const named = new URLSearchParams(location.search).get('api');
  if (!named) return own;
  const url = new URL(named, location.href);
  const allowed = (document.querySelector('meta[name="iot-api-origins"]')?.getAttribute('content') ?? '').split(' ').filter(Boolean);
  if (url.origin === location.origin || allowed.includes(url.origin)) return url.href;
  console.warn(`?api=${named} is not on this page's origin nor in DASHBOARD_API_ORIGINS; using ${own}`);
  return own;
}

/**
 * @typedef {{ message: string, path?: ReadonlyArray<string | number>, extensions?: Record<string, any> }} ApiError
 */

/**
 * POSTs one operation and returns the response's `data` and `errors` as they are: for a mutation,
 * whose caller shows a refusal (`FORBIDDEN`, `RATE_LIMITED`) by its code. Throws only when no
 * GraphQL response came (the network, a proxy's error page).
 * @param {string} url
 * @param {string} query
 * @param {Record<string, unknown>} [variables]
 * @returns {Promise<{ data: any, errors: ApiError[], status: number }>}
 */
export async function graphqlResponse(url, query, variables) {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/graphql-response+json, application/json', ...credentials() },
    body: JSON.stringify({ query, variables }),
  });
  let body;
  try {
    body = await response.json();
  } catch {
    throw new Error(`HTTP ${response.status}: not a GraphQL response`);
  }
  return { data: body?.data ?? null, errors: Array.isArray(body?.errors) ? body.errors : [], status: response.status };
}

/**
 * POSTs one operation; throws when there is no data at all. Partial errors are logged and the
 * data is returned.
 * @param {string} url
 * @param {string} query
 * @param {Record<string, unknown>} [variables]
 * @returns {Promise<any>}
 */
export async function graphql(url, query, variables) {
  const { data, errors, status } = await graphqlResponse(url, query, variables);
  if (errors.length) console.warn('GraphQL errors', errors);
  if (!data) throw new Error(errors[0]?.message ?? `HTTP ${status}`);
  return data;
}

/**
 * A graphql-ws client with the library's own retry and its default settings: it reconnects after
 * a dropped network, a router restart, a slow-consumer or an expired-token close (the router's
 * close codes are ones it retries), re-subscribes every live subscription, and reports its state
 * for the connection indicator.
 * @param {string} url an http(s) GraphQL endpoint; the WebSocket is the same URL with ws(s):
 * @param {(state: ConnectionState) => void} onState
 */
export function liveClient(url, onState) {
  let everConnected = false;
  return createClient({
    url: url.replace(/^http/, 'ws'),
    lazy: false,
    // Read on each (re)connect: a token pasted later is used by the next connection.
    connectionParams: credentials,
    // Pings find a dead connection (a NAT that forgot us) instead of waiting for TCP to notice.
    keepAlive: 10_000,
    onNonLazyError: () => {},
    on: {
      connecting: () => onState(everConnected ? 'reconnecting' : 'connecting'),
      connected: () => {
        everConnected = true;
        onState('live');
      },
      closed: () => onState(everConnected ? 'reconnecting' : 'connecting'),
    },
  });
}

/**
 * Keeps one `readings` subscription going for as long as the page lives, and loses nothing (see
 * `resumableSubscription`).
 * @param {import('graphql-ws').Client} client
 * @param {string} query a subscription with an `$after: String` variable and a `readings` field
 * @param {Record<string, unknown>} variables
 * @param {{ onReading: (reading: Reading) => void, onGap?: () => void }} handlers
 * @returns {() => void} stops the subscription
 */
export function resumableReadings(client, query, variables, { onReading, onGap }) {
  return resumableSubscription(client, query, variables, 'readings', { onEvent: onReading, onGap });
}

/**
 * Keeps one subscription whose events carry a `cursor` (`readings`, `actuatorEvents`) going for
 * as long as the page lives, and loses nothing: each event's `cursor` is written into the
 * subscription's variables, which graphql-ws sends again as they are when it re-subscribes after
 * a reconnect, so the stream resumes right behind the last event received (`after`). When the
 * server ends the subscription (an error, a slow consumer) or the client gives up (its retries
 * spent, e.g. the router down for minutes: a dashboard on a wall keeps going) it is started again
 * the same way; a cursor too old for the live bus (`CURSOR_EXPIRED`) calls `onGap`, whose caller
 * reads the gap from history (or the current state), and the stream restarts from now.
 * @template {{ cursor?: string | null }} T
 * @param {import('graphql-ws').Client} client
 * @param {string} query a subscription with an `$after: String` variable and a field named `field`
 * @param {Record<string, unknown>} variables
 * @param {string} field
 * @param {{ onEvent: (event: T) => void, onGap?: () => void }} handlers
 * @returns {() => void} stops the subscription
 */
export function resumableSubscription(client, query, variables, field, { onEvent, onGap }) {
  const payload = { query, variables: { ...variables, after: /** @type {string | null} */ (null) } };
  let stopped = false;
  let dispose = () => {};
  let restartTimer = 0;
  const restart = (/** @type {number} */ delayMs) => {
    if (stopped) return;
    clearTimeout(restartTimer);
    restartTimer = setTimeout(start, delayMs);
  };
  /** @param {ReadonlyArray<ApiError>} errors */
  const onErrors = (errors) => {
    for (const error of errors) {
      const code = error.extensions?.code;
      if (code === 'SLOW_CONSUMER' && typeof error.extensions?.resumeAfter === 'string')
        payload.variables.after = error.extensions.resumeAfter;
      else if (code === 'CURSOR_EXPIRED') {
        payload.variables.after = null;
        onGap?.();
      } else console.warn('subscription error', error);
    }
  };
  function start() {
    if (stopped) return;
    dispose = client.subscribe(payload, {
      next: (result) => {
        if (stopped) return;
        if (result.errors?.length) onErrors(/** @type {any} */ (result.errors));
        const event = /** @type {T | undefined} */ (result.data?.[field]);
        if (!event) return;
        if (event.cursor) payload.variables.after = event.cursor;
        onEvent(event);
      },
      error: (error) => {
        if (Array.isArray(error)) onErrors(error);
        restart(1_000);
      },
      complete: () => restart(500),
    });
  }
  start();
  return () => {
    stopped = true;
    clearTimeout(restartTimer);
    dispose();
  };
}
