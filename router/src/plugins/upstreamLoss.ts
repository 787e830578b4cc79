import wsTransport from '@graphql-mesh/transport-ws';
import type { Client } from 'graphql-ws';

/**
 * Close codes of a connection that went away (not one closed on purpose, 1000, nor refused,
 * 44xx): going away, no status, abnormal (a killed process, a refused connect), internal
 * error, service restart, try again later, bad gateway.
 */
const LOST = new Set([1001, 1005, 1006, 1011, 1012, 1013, 1014]);

type WsExecutorOptions = Parameters<typeof wsTransport.getSubgraphExecutor>[0];

/** How a connection to a subgraph ended (a `CloseEvent`'s code and reason). */
export interface UpstreamLoss {
  code: number;
  reason: string;
}

/**
 * graphql-ws to the subgraphs (`@graphql-mesh/transport-ws`), telling `onLost` when a connection
 * to one ends other than normally (the subgraph died, restarted, or cannot be reached).
 *
 * Why: that transport's client reconnects by itself and sends each subscription again as it was
 * first asked. A `readings` subscription asked live (`after: null`) then goes on from the moment
 * of the reconnection, and the readings in between never reach its clients, nor does any word of
 * the gap (a telemetry subgraph killed and restarted: 795 of 14 720 readings lost). The router
 * ends its clients' connections instead (`CloseCode.UpstreamLost`, at once, before the client
 * library retries), and each resumes with its own last cursor.
 */
export function upstreamLossTransport(onLost: (loss: UpstreamLoss) => void) {
  return {
    getSubgraphExecutor(options: WsExecutorOptions, onClient?: (client: Client) => void) {
      return wsTransport.getSubgraphExecutor(options, (client) => {
        onClient?.(client);
        client.on('closed', (event) => {
          const { code = 1006, reason = '' } = event as { code?: number; reason?: string };
          if (LOST.has(code)) onLost({ code, reason });
        });
      });
    },
  };
}
