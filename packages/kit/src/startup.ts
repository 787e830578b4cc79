import { connect, createServer } from 'node:net';

/**
 * A start-up failure the operator fixes by changing a variable (a port in use, a service that
 * does not answer where a URL says): `runService` logs each of its `problems` as one line, which
 * names the variable and the address tried, without a stack trace, and exits non-zero.
 */
export class StartupError extends Error {
  override name = 'StartupError';
  readonly problems: readonly string[];

  constructor(problems: string | readonly string[]) {
    const list = typeof problems === 'string' ? [problems] : problems;
    super(list.join('\n'));
    this.problems = list;
  }
}

/** How long a start-up check waits for a TCP connection: a healthy service accepts at once, however slow it answers. */
export const STARTUP_CHECK_TIMEOUT_MS = 3_000;

/** A port this process is about to listen on, and the variable that sets it. */
export interface PortToListen {
  variable: string;
  port: number;
  host: string;
}

/** A service this process connects to, and the variable whose URL names it. */
export interface ServiceToReach {
  variable: string;
  /** What it is, for people: `Redis`, `the MQTT broker`, `carbon (line receiver)`. */
  what: string;
  url: string;
  /** Where the URL names no port, by scheme (e.g. `{ 'redis:': 6379 }`); `http:` 80 and `https:` 443 are known. */
  defaultPorts?: Record<string, number>;
}

/**
 * Runs every check at once and throws one `StartupError` with every problem found. Ports are
 * tried by listening on them and closing at once, services by opening a TCP connection (a few
 * seconds at most each).
 */
export async function checkStartup(checks: {
  listen?: readonly PortToListen[];
  reach?: readonly ServiceToReach[];
  timeoutMs?: number;
}): Promise<void> {
  const results = await Promise.all([
    ...(checks.listen ?? []).map((port) => portProblem(port)),
    ...(checks.reach ?? []).map((service) => reachProblem(service, checks.timeoutMs ?? STARTUP_CHECK_TIMEOUT_MS)),
  ]);
  const problems = results.filter((problem): problem is string => problem !== undefined);
  if (problems.length) throw new StartupError(problems);
}

/**
 * The one line for an error of `listen()` on a port set by `variable` (in use, not permitted, not
 * an address of this machine); undefined for any other error, which is a bug to show in full.
 */
export function listenProblem(port: PortToListen, error: unknown): string | undefined {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  const { variable, host } = port;
  const address = `${host}:${port.port}`;
  switch (code) {
    case 'EADDRINUSE':
      return `${variable}=${port.port}: ${address} is in use (another process listens there); set ${variable} to a free port`;
    case 'EACCES':
      return `${variable}=${port.port}: ${address} may not be listened on by this user (ports below 1024 need privileges); set ${variable} to a port above 1023`;
    case 'EADDRNOTAVAIL':
      return `HOST=${host}: ${address} cannot be listened on, ${host} is not an address of this machine; set HOST to one of its addresses (127.0.0.1, 0.0.0.0)`;
    default:
      return undefined;
  }
}

/** A listen error made into a `StartupError` when it is one of `listenProblem`'s, else itself. */
export function explainListenError(ports: readonly PortToListen[], error: unknown): unknown {
  const failed = error as { port?: number; code?: string } | undefined;
  const port = ports.find((p) => p.port === failed?.port && p.port !== 0);
  const problem = port && listenProblem(port, error);
  return problem ? new StartupError(problem) : error;
}

async function portProblem(port: PortToListen): Promise<string | undefined> {
  if (port.port === 0) return undefined;
  const server = createServer();
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen({ port: port.port, host: port.host, exclusive: true }, () => resolve());
    });
    return undefined;
  } catch (error) {
    const problem = listenProblem(port, error);
    if (problem) return problem;
    throw error;
  } finally {
    await new Promise<void>((resolve) => (server.listening ? server.close(() => resolve()) : resolve()));
  }
}

async function reachProblem(service: ServiceToReach, timeoutMs: number): Promise<string | undefined> {
  const { variable, what } = service;
  const shown = withoutSecrets(service.url);
  let host: string;
  let port: number;
  try {
    const url = new URL(service.url);
    const defaultPort = { 'http:': 80, 'https:': 443, ...service.defaultPorts }[url.protocol];
    host = url.hostname.replace(/^\[(.*)\]$/, '$1');
    port = url.port ? Number(url.port) : (defaultPort ?? NaN);
    if (!host || !Number.isInteger(port))
      return `${variable}=${shown}: names no host and port of ${what}; set ${variable} to a URL such as ${exampleUrl(service)}`;
  } catch {
    return `${variable}=${shown}: is not a URL; set ${variable} to a URL such as ${exampleUrl(service)}`;
  }
  const address = `${host.includes(':') ? `[${host}]` : host}:${port}`;
  const failure = await tcpConnect(host, port, timeoutMs);
  if (!failure) return undefined;
  const why =
    failure === 'timeout'
      ? `did not accept a connection within ${(timeoutMs / 1000).toFixed(0)} s`
      : failure === 'ECONNREFUSED'
        ? 'refused the connection (nothing listens there)'
        : failure === 'ENOTFOUND' || failure === 'EAI_AGAIN'
          ? `cannot be reached: the host name ${host} is not known`
          : failure === 'EHOSTUNREACH' || failure === 'ENETUNREACH'
            ? 'cannot be reached (no route to the host)'
            : `cannot be reached (${failure})`;
  return `${variable}=${shown}: ${what} at ${address} ${why}; start it there or set ${variable} to where it runs`;
}

/** Resolves undefined once connected, else the error code (or `timeout`). */
function tcpConnect(host: string, port: number, timeoutMs: number): Promise<string | undefined> {
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    const done = (result: string | undefined) => {
      clearTimeout(timer);
      socket.destroy();
      resolve(result);
    };
    const timer = setTimeout(() => done('timeout'), timeoutMs);
    socket.once('connect', () => done(undefined));
    socket.once('error', (error: NodeJS.ErrnoException) => done(error.code ?? error.message));
  });
}

/** The URL with its password (and any query, which may carry tokens) hidden: start-up lines end up in shared logs. */
export function withoutSecrets(raw: string): string {
  try {
    const url = new URL(raw);
    if (url.password) url.password = '***';
    if (url.search) url.search = '?…';
    return url.toString().replace(/\/$/, raw.endsWith('/') ? '/' : '');
  } catch {
    return raw.length > 80 ? `${raw.slice(0, 80)}…` : raw;
  }
}

function exampleUrl(service: ServiceToReach): string {
  const [scheme, port] = Object.entries(service.defaultPorts ?? { 'http:': 80 })[0]!;
  return `${scheme}//127.0.0.1:${port}`;
}
