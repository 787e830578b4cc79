/**
 * Creates, before anything is measured, the whisper file of every metric `bench/ingest.ts` will
 * write (the collector's and the relay's), so that neither pays carbon's file creation
 * (about 380 KB preallocated per metric with `1s:6h,1m:7d`) while measured: a running platform
 * has its files already.
 */
import { connect } from 'node:net';
import type { Scenario } from '#simulator';
import { GraphiteError } from './ingest-count.ts';

/** Collector paths (`iot.<tenant>.<gateway>.<node>.<index>.<quantity>`) and relay paths of the first `gateways` gateways. */
export function metricPaths(scenario: Scenario, gateways: number, relayPrefix: string): { collector: string[]; relay: string[] } {
  const collector: string[] = [];
  const relay: string[] = [];
  for (const gateway of scenario.gateways.slice(0, gateways)) {
    for (const node of gateway.nodes) {
      const seen = new Map<number, number>();
      node.sensors.forEach((sensor, index) => {
        const type = Number(sensor.type);
        const typeIndex = seen.get(type) ?? 0;
        seen.set(type, typeIndex + 1);
        collector.push(`iot.${gateway.tenant}.${gateway.id}.${node.address}.${index}.${sensor.quantity.toLowerCase()}`);
        relay.push(`${relayPrefix}.${gateway.id}.${node.address}.${typeIndex}.${type}`);
      });
    }
  }
  return { collector, relay };
}

/** Writes one point an hour ago to each path, then waits until graphite-web finds them all. */
export async function primeMetrics(
  carbonUrl: string,
  graphiteUrl: string,
  paths: string[],
  patterns: string[],
  timeoutMs = 600_000,
): Promise<number> {
  const began = Date.now();
  const carbon = new URL(carbonUrl);
  const second = Math.floor(Date.now() / 1000) - 3600;
  await new Promise<void>((resolve, reject) => {
    const socket = connect({ host: carbon.hostname, port: Number(carbon.port) }, () =>
      socket.end(paths.map((path) => `${path} 0 ${second}\n`).join(''), resolve),
    );
    socket.once('error', reject);
  });
  for (;;) {
    let found = 0;
    let failure: string | undefined;
    for (const pattern of patterns) {
      const url = new URL('render', `${graphiteUrl}/`);
      url.searchParams.set('format', 'json');
      url.searchParams.set('from', String(second - 5));
      url.searchParams.set('until', String(second + 5));
      url.searchParams.set('target', `countSeries(${pattern})`);
      const response = await fetch(url, { signal: AbortSignal.timeout(120_000) });
      // graphite-web can fail (500) reading a whisper file carbon is still creating: ask again.
      if (response.status >= 500) {
        failure = new GraphiteError(response.status, await response.text()).message;
        continue;
      }
      if (!response.ok) throw new Error(`graphite-web ${response.status}: ${(await response.text()).slice(0, 300)}`);
      const series = (await response.json()) as Array<{ datapoints: Array<[number | null, number]> }>;
      found += series[0]?.datapoints.find(([value]) => value !== null)?.[0] ?? 0;
    }
    if (!failure && found >= paths.length) return Date.now() - began;
    if (Date.now() - began > timeoutMs)
      throw new Error(
        `carbon created ${found} of ${paths.length} metrics within ${timeoutMs} ms${failure ? ` (last error: ${failure})` : ''}`,
      );
    await new Promise((resolve) => setTimeout(resolve, 2_000));
  }
}
