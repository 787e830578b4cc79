import { DEVELOPMENT_SECRET, mintToken, Scope, signRequest, type Caller } from '#auth';

/** Every scope a tenant's own developer has (all but admin). */
export const tenantScopes: Scope[] = [
  Scope.DEVICES_READ,
  Scope.DEVICES_WRITE,
  Scope.TELEMETRY_READ,
  Scope.INFRA_READ,
  Scope.INFRA_WRITE,
  Scope.OPENDATA_READ,
];

/** A development token (HS256, the platform's default secret) of `tenant` with `scopes`. */
export function tokenFor(tenant: string, scopes: readonly Scope[] = tenantScopes, expiresIn: string | number = '1h'): Promise<string> {
  return mintToken({ tenant, scopes, secret: DEVELOPMENT_SECRET, expiresIn });
}

/** An operator's token: every tenant. */
export function adminToken(): Promise<string> {
  return mintToken({ scopes: [Scope.ADMIN], secret: DEVELOPMENT_SECRET, expiresIn: '1h' });
}

/**
 * POSTs straight to a subgraph, signed as the router would sign it for `caller` (omit `secret`
 * to send it unsigned): to check that subgraphs hold the walls themselves. The signature names
 * the subgraph at `url` (asked on its `/health`) unless `audience` names another.
 */
export async function subgraphRequest(
  url: string,
  body: { query: string; variables?: Record<string, unknown> },
  caller?: Caller,
  secret?: string,
  audience?: string,
): Promise<{ status: number; data?: any; errors?: Array<{ message: string; extensions?: Record<string, unknown> }> }> {
  const text = JSON.stringify(body);
  const signed =
    caller && secret
      ? signRequest(
          caller,
          { audience: audience ?? (await subgraphName(url)), method: 'POST', path: new URL(url).pathname, body: text },
          secret,
        )
      : {};
  const response = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...signed }, body: text });
  return { status: response.status, ...((await response.json()) as object) };
}

/** A subgraph's name, as its `/health` answers it. */
async function subgraphName(url: string): Promise<string> {
  const health = await fetch(new URL('/health', url));
  return ((await health.json()) as { name: string }).name;
}
