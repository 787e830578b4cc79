import type { Server } from 'node:http';
import { useServer } from 'graphql-ws/use/ws';
import { WebSocketServer, type WebSocket } from 'ws';
import { ThrottledWarnings, type Logger } from '#log';
import { CloseCode } from './closeCodes.ts';
import { MAX_BODY_BYTES } from './plugins/bodyLimit.ts';
import { admitConnection, admitOperation, operationParams, type RouterPlugin } from './plugins/routerPlugin.ts';
import type { SharedSubscriptions } from './plugins/sharedSubscriptions.ts';
import type { UpstreamLoss } from './plugins/upstreamLoss.ts';
import { formatResult, routerClose } from './protocol.ts';

export interface GraphQLWsServerOptions {
  /** The router's HTTP server: connections are upgraded on it at `path`. */
  server: Server;
  path: string;
  /** The router's plugins: their `onAdmitConnection`, `onOperationParams` and `onAdmitOperation` hooks, in order. */
  plugins: readonly RouterPlugin[];
  /** The runtime's graphql-ws options with equal subscriptions shared. */
  shared: SharedSubscriptions;
  /** Largest message accepted, in bytes (a larger one closes the connection with 1009). Default 256 KiB. */
  maxMessageBytes?: number;
  logger: Logger;
}

export interface GraphQLWsServer {
  /**
   * A subgraph connection was lost under subscriptions: every connection is closed with
   * `CloseCode.UpstreamLost` so that its client resumes from its own cursors (the upstream would
   * otherwise be resubscribed as first asked, with a gap).
   */
  onUpstreamLoss(loss: UpstreamLoss): void;
  /** Ends every connection and stops accepting new ones. */
  close(): Promise<void>;
}

/** graphql-ws on the router's port: connections and operations admitted by the plugins, then served by the runtime. */
export function serveGraphQLWs(options: GraphQLWsServerOptions): GraphQLWsServer {
  const { plugins, shared, logger } = options;
  const wsServer = new WebSocketServer({
    server: options.server,
    path: options.path,
    maxPayload: options.maxMessageBytes ?? MAX_BODY_BYTES,
  });
  refuseOversizeMessagesQuietly(wsServer, new ThrottledWarnings(logger));
  const cleanup = useServer(
    {
      ...shared.options,
      onConnect: (ctx) => admitConnection(plugins, ctx),
      onSubscribe: async (ctx, id, payload) => {
        const admitted = operationParams(plugins, payload, undefined);
        if ('error' in admitted) return [admitted.error];
        const refused = await admitOperation(plugins, ctx.extra.request, admitted.params);
        return refused ? [refused] : shared.options.onSubscribe!(ctx, id, admitted.params);
      },
      onNext: (_ctx, _id, _payload, _args, result) => formatResult(result),
    },
    wsServer,
  );
  const upstreamWarnings = new ThrottledWarnings(logger);
  return {
    onUpstreamLoss(loss) {
      const { code, reason } = routerClose(CloseCode.UpstreamLost);
      let closed = 0;
      for (const client of wsServer.clients) {
        if (client.readyState !== client.OPEN) continue;
        client.close(code, reason);
        closed++;
      }
      if (closed)
        upstreamWarnings.warn(
          'upstream-lost',
          'lost a subgraph connection under subscriptions; closed the graphql-ws connections so that their clients resume with their cursors',
          { code: loss.code, reason: loss.reason, connections: closed },
        );
    },
    async close() {
      await cleanup.dispose();
      for (const client of wsServer.clients) client.terminate();
      await new Promise<void>((resolve) => wsServer.close(() => resolve()));
    },
  };
}

/**
 * A message over `maxPayload` is the client's doing: `ws` has already sent the close (1009) when it
 * reports it, and graphql-ws would log each as an internal error with its stack: a log line per
 * hostile message. The report stops here, counted in one warning an interval. Registered before
 * graphql-ws's listener, so it sees each socket first.
 */
function refuseOversizeMessagesQuietly(wsServer: WebSocketServer, warnings: ThrottledWarnings): void {
  wsServer.on('connection', (socket: WebSocket) => {
    const emit = socket.emit.bind(socket);
    socket.emit = ((event: string | symbol, ...args: unknown[]) => {
      if (event === 'error' && (args[0] as { code?: string } | undefined)?.code === 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH') {
        warnings.warn('oversize-ws-message', 'graphql-ws messages over the size limit refused (connections closed with 1009)');
        // The close frame is written: stop reading the rest of the message rather than discard it.
        setImmediate(() => socket.terminate());
        return true;
      }
      return emit(event, ...args);
    }) as typeof socket.emit;
  });
}
