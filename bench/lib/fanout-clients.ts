/**
 * Child process of `bench/fanout.ts`: `count` graphql-transport-ws clients, one subscription
 * each, written against `ws` directly so the client side costs little. Latency is the time from
 * each reading's `time` (set when the collector accepted it) to receipt; a frame counts as many
 * readings as it holds. Config: the JSON of a
 * `ClientConfig` as its one argument.
 */
import WebSocket from 'ws';
import { histogramBuckets, tellParent, type ClientCommand, type ClientConfig } from './fanout-protocol.ts';

const config = JSON.parse(process.argv[2]!) as ClientConfig;
const sockets: WebSocket[] = [];
let histogram = new Uint32Array(histogramBuckets);
let received = 0;
let errors = 0;
let measuring = false;
const closed: Record<string, number> = {};
const timeMarker = '"time":"';

function onFrame(data: WebSocket.RawData): void {
  if (!measuring) return;
  const text = data.toString();
  if (!text.includes('"type":"next"')) {
    if (text.includes('"type":"error"')) errors++;
    return;
  }
  // One reading per `time` in the frame (a `readingBatches` frame holds several).
  const now = Date.now();
  for (let at = text.indexOf(timeMarker); at >= 0; at = text.indexOf(timeMarker, at + timeMarker.length)) {
    received++;
    const time = Date.parse(text.slice(at + timeMarker.length, at + timeMarker.length + 24));
    histogram[Math.min(histogramBuckets - 1, Math.max(0, now - time))]!++;
  }
}

function open(index: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = new WebSocket(config.url.replace(/^http/, 'ws'), 'graphql-transport-ws');
    const timer = setTimeout(() => {
      socket.terminate();
      resolve(false);
    }, 30_000);
    socket.on('open', () => socket.send(JSON.stringify({ type: 'connection_init', payload: { authorization: `Bearer ${config.token}` } })));
    socket.once('message', (data) => {
      if (!String(data).includes('connection_ack')) return resolve(false);
      const gatewayId = config.gateways[index % config.gateways.length];
      socket.send(JSON.stringify({ id: '1', type: 'subscribe', payload: { query: config.query, variables: { gatewayId } } }));
      socket.on('message', onFrame);
      clearTimeout(timer);
      sockets.push(socket);
      resolve(true);
    });
    socket.on('error', () => {
      clearTimeout(timer);
      resolve(false);
    });
    socket.on('close', (code) => {
      closed[code] = (closed[code] ?? 0) + 1;
    });
  });
}

let subscribed = 0;
let failed = 0;
for (let start = 0; start < config.count; start += config.openBatch) {
  const batch = Array.from({ length: Math.min(config.openBatch, config.count - start) }, (_, i) => open(config.first + start + i));
  for (const ok of await Promise.all(batch)) {
    if (ok) subscribed++;
    else failed++;
  }
}
tellParent({ type: 'subscribed', subscribed, failed });

process.on('message', (command: ClientCommand) => {
  if (command.type === 'start-window') {
    histogram = new Uint32Array(histogramBuckets);
    received = errors = 0;
    for (const code of Object.keys(closed)) delete closed[code];
    measuring = true;
  } else if (command.type === 'end-window') {
    measuring = false;
    tellParent({ type: 'window', received, histogram: Array.from(histogram), closed: { ...closed }, errors });
  } else if (command.type === 'close') {
    for (const socket of sockets) socket.terminate();
    process.exit(0);
  }
});
