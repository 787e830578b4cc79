/**
 * What the processes of `bench/fanout.ts` tell each other over IPC, and the latency histogram
 * they share.
 */

/** CPU and memory of a server process, as it measures itself. */
export interface ProcessSample {
  /** `process.cpuUsage()` user + system, microseconds. */
  cpuMicros: number;
  rssBytes: number;
  /** Heap in use after a full garbage collection (the live heap). */
  heapBytes: number;
  at: number;
}

/** Messages of a server child (router or plain reference) to the parent. */
export type ServerReport =
  | { type: 'listening'; url: string }
  | { type: 'sample'; sample: ProcessSample; subscribers: number; upstreams?: number; slowConsumers: number };

/** Messages of the parent to a server child. */
export type ServerCommand =
  { type: 'sample' } | { type: 'readings'; frames: Array<{ gatewayId: string; payload: string }> } | { type: 'close' };

export interface ClientConfig {
  url: string;
  /** The clients' token, in graphql-ws' `connectionParams` (the plain server ignores it). */
  token: string;
  /** Subscriber numbers `first` .. `first + count - 1`; number i subscribes to gateway `gateways[i % gateways.length]`. */
  first: number;
  count: number;
  gateways: string[];
  query: string;
  /** Connections opened at a time. */
  openBatch: number;
}

/** Messages of a client child to the parent. */
export type ClientReport =
  | { type: 'subscribed'; subscribed: number; failed: number }
  | { type: 'window'; received: number; histogram: number[]; closed: Record<string, number>; errors: number };

/** Messages of the parent to a client child. */
export type ClientCommand = { type: 'start-window' } | { type: 'end-window' } | { type: 'close' };

/** Latencies in 1 ms buckets up to a minute (the last bucket holds everything later). */
export const histogramBuckets = 60_000;

export function percentile(histogram: ArrayLike<number>, fraction: number): number | undefined {
  let total = 0;
  for (let i = 0; i < histogram.length; i++) total += histogram[i]!;
  if (total === 0) return undefined;
  const rank = Math.ceil(total * fraction);
  let seen = 0;
  for (let i = 0; i < histogram.length; i++) {
    seen += histogram[i]!;
    if (seen >= rank) return i;
  }
  return histogram.length - 1;
}

export function mergeHistograms(histograms: ArrayLike<number>[]): number[] {
  const merged = new Array<number>(histogramBuckets).fill(0);
  for (const histogram of histograms) for (let i = 0; i < histogram.length; i++) merged[i]! += histogram[i]!;
  return merged;
}

/** Sends a message to the parent; the children are always forked with IPC. */
export function tellParent(message: ServerReport | ClientReport): void {
  process.send!(message);
}

/** CPU, RSS and live heap of this process (`--expose-gc` gives the live heap). */
export function sampleProcess(): ProcessSample {
  (globalThis as { gc?: () => void }).gc?.();
  const cpu = process.cpuUsage();
  const memory = process.memoryUsage();
  return { cpuMicros: cpu.user + cpu.system, rssBytes: memory.rss, heapBytes: memory.heapUsed, at: Date.now() };
}
