/**
 * Child process of `bench/fanout.ts`: the reference, a plain `ws` server that speaks just enough
 * graphql-transport-ws (ack, subscribe by `gatewayId`, complete) and writes each reading's payload,
 * serialised by the parent as the router would, to every subscriber of its gateway. No GraphQL,
 * no federation: what a socket write costs.
 */
import type { AddressInfo } from 'node:net';
import { WebSocketServer, type WebSocket } from 'ws';
import { sampleProcess, tellParent, type ServerCommand } from './fanout-protocol.ts';

const subscribers = new Map<string, Map<WebSocket, Buffer>>();
let count = 0;
const suffix = Buffer.from('}');
const server = new WebSocketServer({ port: 0, host: '127.0.0.1', handleProtocols: () => 'graphql-transport-ws' });
server.on('connection', (socket) => {
  const mine: Array<[string, string]> = [];
  socket.on('message', (data) => {
    const message = JSON.parse(String(data)) as { type: string; id?: string; payload?: { variables?: { gatewayId?: string } } };
    if (message.type === 'connection_init') socket.send('{"type":"connection_ack"}');
    else if (message.type === 'subscribe' && message.id) {
      const gatewayId = message.payload?.variables?.gatewayId ?? '';
      let ofGateway = subscribers.get(gatewayId);
      if (!ofGateway) subscribers.set(gatewayId, (ofGateway = new Map()));
      ofGateway.set(socket, Buffer.from(`{"id":${JSON.stringify(message.id)},"type":"next","payload":`));
      mine.push([gatewayId, message.id]);
      count++;
    }
  });
  socket.on('close', () => {
    for (const [gatewayId] of mine) if (subscribers.get(gatewayId)?.delete(socket)) count--;
  });
});
server.on('listening', () => tellParent({ type: 'listening', url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/graphql` }));

process.on('message', (command: ServerCommand) => {
  if (command.type === 'readings') {
    for (const { gatewayId, payload } of command.frames) {
      const ofGateway = subscribers.get(gatewayId);
      if (!ofGateway) continue;
      const bytes = Buffer.from(payload);
      for (const [socket, prefix] of ofGateway) socket.send(Buffer.concat([prefix, bytes, suffix]), { binary: false });
    }
  } else if (command.type === 'sample') {
    tellParent({ type: 'sample', sample: sampleProcess(), subscribers: count, slowConsumers: 0 });
  } else if (command.type === 'close') {
    for (const client of server.clients) client.terminate();
    server.close(() => process.exit(0));
  }
});
