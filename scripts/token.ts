/**
 * `npm run token -- --tenant pisek-city --scopes devices:read,telemetry:read [--expires 12h]`
 * prints a development JWT (HS256 with JWT_SECRET, or the development secret `npm start` uses).
 * `--admin` mints an operator token (every tenant); `--api-key <id> [--name ...] [--per-minute N]
 * [--scopes actuators:write]` issues a partner API key instead (open data, and with `actuators:write`
 * the actuators tenants grant it): the key on stdout, the record to add to API_KEYS on stderr.
 */
import { parseArgs } from 'node:util';
import { allScopes, apiKeyScopes, DEVELOPMENT_SECRET, isScope, issueApiKey, mintToken, Scope } from '#auth';

const usage = `usage: npm run token -- --tenant <tenant> [--scopes ${allScopes.filter((s) => s !== 'admin').join(',')}] [--expires 12h]
       npm run token -- --admin [--expires 1h]
       npm run token -- --api-key <id> [--name <partner>] [--per-minute 600] [--scopes ${Scope.ACTUATORS_WRITE}]`;

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      tenant: { type: 'string' },
      scopes: { type: 'string' },
      admin: { type: 'boolean' },
      expires: { type: 'string', default: '12h' },
      subject: { type: 'string' },
      'api-key': { type: 'string' },
      name: { type: 'string' },
      'per-minute': { type: 'string', default: '600' },
      help: { type: 'boolean' },
    },
  });
  if (values.help) return void console.log(usage);
  if (values['api-key']) {
    const perMinute = Number(values['per-minute']);
    if (!Number.isInteger(perMinute) || perMinute < 1)
      throw new Error(`--per-minute must be a positive integer, got "${values['per-minute']}"`);
    const scopes = (values.scopes ?? '')
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean);
    const unknown = scopes.filter((s) => !isScope(s));
    if (unknown.length) throw new Error(`unknown scopes: ${unknown.join(', ')}; an API key may have: ${apiKeyScopes.join(', ')}`);
    const { key, record } = issueApiKey(values['api-key'], values.name ?? values['api-key'], perMinute, scopes.filter(isScope));
    console.error(`Add this record to API_KEYS (or the API_KEYS_FILE array); the key is not stored anywhere:\n${JSON.stringify(record)}`);
    return void console.log(key);
  }
  if (!values.tenant && !values.admin) throw new Error(`--tenant or --admin is required\n${usage}`);
  const requested = values.admin
    ? [Scope.ADMIN]
    : (values.scopes ?? allScopes.filter((s) => s !== Scope.ADMIN).join(','))
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean);
  const unknown = requested.filter((s) => !isScope(s));
  if (unknown.length) throw new Error(`unknown scopes: ${unknown.join(', ')}; known: ${allScopes.join(', ')}`);
  const secret = process.env.JWT_SECRET?.trim() || DEVELOPMENT_SECRET;
  console.log(
    await mintToken({
      tenant: values.tenant,
      scopes: requested.filter(isScope),
      subject: values.subject,
      secret,
      expiresIn: values.expires,
    }),
  );
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : String(error));
  process.exit(2);
});
