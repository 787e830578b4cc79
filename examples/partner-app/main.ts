import type { Credentials } from './graphql-http.ts';
import { runPartnerApp } from './partner-app.ts';

/**
 * The example partner app against a running API (`npm start`):
 *
 *   npm run example -- [gatewayId]
 *
 * Reads API_URL (default http://localhost:4000/graphql), GATEWAY_ID (the gateway to register,
 * default a fresh `partner-<time>`; the first argument wins), GATEWAY_TENANT (its tenant, default
 * `pisek-city`), WATCH_GATEWAY (the gateway to look at and follow live, default `austin-gw01`),
 * READINGS (default 5), KEEP_GATEWAY (`true`: leave the registered gateway; by default it is
 * decommissioned when the app is done), and who the app is: IOT_TOKEN (a JWT, from the operator;
 * in development `npm run token -- --admin`), or IOT_API_KEY (a partner API key, open data only).
 */
function readConfig(
  argv: string[],
  env: NodeJS.ProcessEnv,
): { url: string; gatewayId: string; tenant: string; watch: string; decommission: boolean; readings: number; credentials: Credentials } {
  const url = env['API_URL'] ?? 'http://localhost:4000/graphql';
  if (!/^https?:\/\//.test(url)) throw new Error(`API_URL must be an http(s) URL, not ${url}`);
  const gatewayId = argv[0] ?? env['GATEWAY_ID'] ?? `partner-${Date.now().toString(36)}`;
  const tenant = env['GATEWAY_TENANT']?.trim() || 'pisek-city';
  const watch = env['WATCH_GATEWAY']?.trim() || 'austin-gw01';
  const keep = (env['KEEP_GATEWAY'] ?? 'false').trim().toLowerCase();
  if (!['true', 'false', '1', '0'].includes(keep)) throw new Error(`KEEP_GATEWAY must be true or false, not ${env['KEEP_GATEWAY']}`);
  const readings = Number(env['READINGS'] ?? '5');
  if (!Number.isInteger(readings) || readings < 1) throw new Error(`READINGS must be a positive integer, not ${env['READINGS']}`);
  const token = env['IOT_TOKEN']?.trim() || undefined;
  const apiKey = env['IOT_API_KEY']?.trim() || undefined;
  if (!token && !apiKey)
    throw new Error(
      'set IOT_TOKEN to a token from your operator (in development: IOT_TOKEN=$(npm run -s token -- --admin)), or IOT_API_KEY to a partner API key',
    );
  return { url, gatewayId, tenant, watch, decommission: keep === 'false' || keep === '0', readings, credentials: { token, apiKey } };
}

const print = (line: string) => process.stdout.write(`${line}\n`);

try {
  const config = readConfig(process.argv.slice(2), process.env);
  print(`partner app against ${config.url}`);
  const report = await runPartnerApp({ ...config, print });
  print(`done: ${report.live.length} live readings, resumed after ${report.resumedAfter}`);
} catch (error) {
  process.stderr.write(`partner app failed: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
}
