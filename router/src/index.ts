import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import {
  ApiKeys,
  authSettingsFromEnv,
  createTokenVerifier,
  DEVELOPMENT_SECRET,
  DEVELOPMENT_SUBGRAPH_SECRET,
  type ApiKeyRecord,
  type AuthSettings,
} from '#auth';
import type { EnvReader } from '#kit';
import { createLogger, type Logger } from '#log';
import { dashboardHandler, dashboardOptionsFromEnv, type DashboardOptions } from '../../dashboard/handler.ts';
import { startRouter, type RouterOptions, type RunningRouter } from './gateway.ts';
import { routerHardeningFromEnv } from './hardening.ts';
import { RouterAuth } from './plugins/auth.ts';

export {
  startRouter,
  type HttpHandler,
  type QueryPlanner,
  type RouterHardening,
  type RouterOptions,
  type RunningRouter,
} from './gateway.ts';
export { routerHardeningFromEnv } from './hardening.ts';
export { RouterAuth, developmentRouterAuth } from './plugins/auth.ts';

/** The supergraph `npm run compose` writes, served when no other is given. */
export const DEFAULT_SUPERGRAPH_FILE = fileURLToPath(new URL('../../schema/supergraph.graphql', import.meta.url));

/** Who may call, as settings: how tokens are checked, the partner API keys and the secret subgraph requests are signed with. */
export interface RouterAuthSettings {
  tokens: AuthSettings['tokens'];
  apiKeys?: readonly ApiKeyRecord[];
  subgraphSecret: string;
}

/**
 * Everything the router is made of, each part optional with its default chosen here: a
 * standalone router (`router/src/main.ts`) and the all-in-one platform wire it the same way.
 */
export interface RouterConfig extends Omit<RouterOptions, 'supergraph' | 'port' | 'logger' | 'auth'> {
  /** The supergraph SDL, with the subgraph URLs written in it. Default: read from `supergraphFile`. */
  supergraph?: string;
  /** Where the supergraph is read from when `supergraph` is not given. Default `schema/supergraph.graphql`. */
  supergraphFile?: string;
  /** Default 4000; 0 picks a free port. */
  port?: number;
  /** Default a pino logger named `router`, at info. */
  logger?: Logger;
  /**
   * Who may call: a `RouterAuth`, or the settings to make one. Default: HS256 tokens with the
   * development secret, no API keys, the development subgraph secret.
   */
  auth?: RouterAuth | RouterAuthSettings;
  /** The live city dashboard at `/`. Default none. */
  dashboard?: DashboardOptions;
}

/**
 * Wires and starts a router from its config: reads the supergraph, makes its auth, adds the
 * dashboard to its HTTP handlers, and starts it (`startRouter`: limits, rate limits, persisted
 * operations, CSRF, production mode, shared subscriptions, the open data downloads proxied to the
 * supergraph's `opendata` subgraph).
 */
export async function wireRouter(config: RouterConfig = {}): Promise<RunningRouter> {
  const { supergraphFile, dashboard, ...options } = config;
  const file = supergraphFile ?? DEFAULT_SUPERGRAPH_FILE;
  const supergraph =
    config.supergraph ??
    (await readFile(file, 'utf8').catch((error: NodeJS.ErrnoException) => {
      throw new Error(`cannot read the supergraph ${file}: ${error.code ?? error.message}`);
    }));
  return startRouter({
    ...options,
    supergraph,
    port: config.port ?? 4000,
    host: config.host ?? '127.0.0.1',
    logger: config.logger ?? createLogger('router'),
    auth: config.auth instanceof RouterAuth ? config.auth : routerAuth(config.auth),
    planner: config.planner ?? 'rust',
    httpHandlers: [...(dashboard ? [dashboardHandler(dashboard)] : []), ...(config.httpHandlers ?? [])],
  });
}

function routerAuth(settings: RouterAuthSettings | undefined): RouterAuth {
  return new RouterAuth({
    verifyToken: createTokenVerifier(settings?.tokens ?? { secret: DEVELOPMENT_SECRET }),
    apiKeys: new ApiKeys([...(settings?.apiKeys ?? [])]),
    subgraphSecret: settings?.subgraphSecret ?? DEVELOPMENT_SUBGRAPH_SECRET,
  });
}

/**
 * The router's config from the environment (defaults in brackets): the supergraph read from
 * `SUPERGRAPH` [schema/supergraph.graphql], `PORT` [4000], `HOST` [127.0.0.1], `ROUTER_PLANNER` [rust],
 * identity (`JWT_SECRET` or `JWT_JWKS_URL` with `JWT_ISSUER`/`JWT_AUDIENCE`, `SUBGRAPH_SECRET`,
 * `API_KEYS` or `API_KEYS_FILE`: `authSettingsFromEnv`), the limits and hardening
 * (`routerHardeningFromEnv`) and the dashboard's `DASHBOARD_API_ORIGINS`.
 */
export async function routerConfigFromEnv(env: EnvReader): Promise<RouterConfig & Required<Pick<RouterConfig, 'port' | 'host'>>> {
  const planner = env.string('ROUTER_PLANNER', 'rust');
  if (planner !== 'rust' && planner !== 'js') throw new Error(`ROUTER_PLANNER must be rust or js, got "${planner}"`);
  const auth = await authSettingsFromEnv(env);
  const file = env.string('SUPERGRAPH', DEFAULT_SUPERGRAPH_FILE);
  const supergraph = await readFile(file, 'utf8').catch((error: NodeJS.ErrnoException) => {
    throw new Error(`cannot read the supergraph SUPERGRAPH=${file}: ${error.code ?? error.message}`);
  });
  return {
    supergraph,
    port: env.int('PORT', 4000),
    host: env.string('HOST', '127.0.0.1'),
    planner,
    auth: { tokens: auth.tokens, apiKeys: auth.apiKeys, subgraphSecret: auth.subgraphSecret },
    dashboard: dashboardOptionsFromEnv(env),
    ...(await routerHardeningFromEnv(env)),
  };
}
