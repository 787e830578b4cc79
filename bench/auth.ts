/**
 * `npx tsx bench/auth.ts [--seconds 3]`: what identity costs on the hot path, per operation, in
 * this process: the router checking a caller's JWT (HS256; once per HTTP request or graphql-ws
 * connection; a token seen before is remembered until it expires), signing a subgraph request, and a subgraph verifying it (once per subgraph request,
 * `_entities` fetches included). Bodies are those of a typical `_entities` fetch.
 */
import { parseArgs } from 'node:util';
import {
  createTokenVerifier,
  DEVELOPMENT_SECRET,
  mintToken,
  ReplayGuard,
  Scope,
  signRequest,
  verifySignedRequest,
  type Caller,
} from '#auth';
import { table } from './lib/table.ts';

const { values } = parseArgs({ options: { seconds: { type: 'string', default: '3' } } });
const seconds = Number(values.seconds);

const caller: Caller = { kind: 'user', subject: 'bench', tenant: 'pisek-city', scopes: [Scope.DEVICES_READ, Scope.TELEMETRY_READ] };
const secret = 'bench-subgraph-secret';
const representations = Array.from({ length: 10 }, (_, i) => ({ __typename: 'Sensor', id: `pisek-gw001.${i + 1}.0` }));
const body = JSON.stringify({
  query: 'query ($representations: [_Any!]!) { _entities(representations: $representations) { ... on Sensor { name room } } }',
  variables: { representations },
});
const request = { audience: 'telemetry', method: 'POST', path: '/graphql', body };
const token = await mintToken({ tenant: 'pisek-city', scopes: caller.scopes, secret: DEVELOPMENT_SECRET });
const verifyToken = createTokenVerifier({ secret: DEVELOPMENT_SECRET });
const replay = new ReplayGuard();

/** Runs `step` for `seconds` (after a short warm-up); operations a second and µs an operation. */
async function measure(step: () => unknown): Promise<[string, string]> {
  for (let i = 0; i < 2_000; i++) await step();
  let count = 0;
  const started = process.hrtime.bigint();
  const until = started + BigInt(seconds * 1e9);
  while (process.hrtime.bigint() < until) {
    for (let i = 0; i < 500; i++) await step();
    count += 500;
  }
  const elapsedS = Number(process.hrtime.bigint() - started) / 1e9;
  return [Math.round(count / elapsedS).toLocaleString('en'), ((elapsedS / count) * 1e6).toFixed(1)];
}

const rows = [
  ['router: verify a JWT first seen (HS256)', ...(await measure(() => createTokenVerifier({ secret: DEVELOPMENT_SECRET })(token)))],
  ['router: verify a JWT seen before', ...(await measure(() => verifyToken(token)))],
  ['router: sign a subgraph request', ...(await measure(() => signRequest(caller, request, secret)))],
  [
    'subgraph: verify a signed request',
    ...(await measure(() => verifySignedRequest(signRequest(caller, request, secret), request, { secret, audience: 'telemetry', replay }))),
  ],
];
console.log(`\nIdentity on the hot path: ${body.length}-byte _entities body, ${seconds} s each, Node ${process.versions.node}\n`);
console.log(table(['operation', 'per second', 'µs each'], rows));
console.log('\n(the last row signs too: verifying alone costs it minus the row above)');
