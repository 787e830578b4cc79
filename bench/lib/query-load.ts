/**
 * Child process of `bench/query.ts`: a closed-loop load generator. `connections` loops each send
 * the query with `fetch` (undici, keep-alive) and send the next one as soon as the answer is read,
 * for `seconds`; an answer counts as an error when its status is not 200 or it has `errors`.
 *
 * Forked with IPC; argument: the JSON of a `LoadConfig`. Sends `{ result: LoadResult }`.
 */

export interface LoadConfig {
  url: string;
  /** The caller's token, sent as `Authorization: Bearer`. */
  token: string;
  query: string;
  connections: number;
  seconds: number;
}

export interface LoadResult {
  requests: number;
  errors: number;
  /** The first error answer, for the report. */
  firstError?: string;
  wallMs: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  /** Bytes of one answer. */
  responseBytes: number;
  /** CPU of this process, % of one core. */
  cpuPct: number;
}

async function run(config: LoadConfig): Promise<LoadResult> {
  const body = JSON.stringify({ query: config.query });
  const latencies: number[] = [];
  let errors = 0;
  let firstError: string | undefined;
  let responseBytes = 0;
  const cpu = process.cpuUsage();
  const began = performance.now();
  const deadline = began + config.seconds * 1000;
  const loop = async () => {
    while (performance.now() < deadline) {
      const sent = performance.now();
      try {
        const response = await fetch(config.url, {
          method: 'POST',
          headers: { 'content-type': 'application/json', accept: 'application/json', authorization: `Bearer ${config.token}` },
          body,
        });
        const text = await response.text();
        latencies.push(performance.now() - sent);
        responseBytes = text.length;
        if (response.status !== 200 || text.includes('"errors"')) {
          errors++;
          firstError ??= `${response.status} ${text.slice(0, 300)}`;
        }
      } catch (error) {
        errors++;
        firstError ??= String(error);
      }
    }
  };
  await Promise.all(Array.from({ length: config.connections }, loop));
  const wallMs = performance.now() - began;
  const used = process.cpuUsage(cpu);
  latencies.sort((a, b) => a - b);
  const at = (q: number) => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] ?? NaN;
  return {
    requests: latencies.length,
    errors,
    ...(firstError ? { firstError } : {}),
    wallMs,
    p50Ms: at(0.5),
    p99Ms: at(0.99),
    maxMs: latencies.at(-1) ?? NaN,
    responseBytes,
    cpuPct: (100 * (used.user + used.system)) / 1000 / wallMs,
  };
}

async function main(): Promise<void> {
  if (!process.send || !process.argv[2]) throw new Error('usage: fork(query-load.ts, [JSON LoadConfig]) with an IPC channel');
  const result = await run(JSON.parse(process.argv[2]) as LoadConfig);
  process.send({ result }, () => process.exit(0));
}

main().catch((error: unknown) => {
  process.stderr.write(`query load: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});
