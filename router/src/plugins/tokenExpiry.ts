import type { IncomingMessage } from 'node:http';
import type { WebSocket } from 'ws';
import { CloseCode } from '../closeCodes.ts';
import { routerClose } from '../protocol.ts';
import type { RouterPlugin } from './routerPlugin.ts';

export interface TokenExpiryOptions {
  /** When the credentials a connection was opened with expire (ms since the epoch); undefined when they do not. */
  expiresAt: (request: IncomingMessage) => number | undefined;
}

/**
 * A graphql-ws connection lives no longer than its token: at its `exp` it is closed with
 * `CloseCode.TokenExpired`, a code graphql-ws' client retries (4401 it would not), so it reconnects
 * with a fresh token from its `connectionParams` function. Listed after `useCredentials`. (An SSE
 * stream ends at the same moment: `useSharedSubscriptions` is given the same time.)
 */
export function useTokenExpiry(options: TokenExpiryOptions): RouterPlugin {
  return {
    onAdmitConnection(ctx) {
      const expiresAt = options.expiresAt(ctx.extra.request);
      if (expiresAt !== undefined) closeWhenExpired(ctx.extra.socket, expiresAt);
      return true;
    },
  };
}

/** Closes `socket` at `expiresAt`; timers wait at most ~24 days at a time. */
function closeWhenExpired(socket: WebSocket, expiresAt: number): void {
  const { code, reason } = routerClose(CloseCode.TokenExpired);
  let timer: NodeJS.Timeout;
  const check = () => {
    const left = expiresAt - Date.now();
    if (left <= 0) socket.close(code, reason);
    else timer = setTimeout(check, Math.min(left, 2 ** 31 - 1));
  };
  check();
  socket.once('close', () => clearTimeout(timer));
}
