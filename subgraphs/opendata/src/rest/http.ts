import type { IncomingMessage, ServerResponse } from 'node:http';

/** Error codes of the open data downloads, in one place (the GraphQL API uses the same words). */
export const OpenDataErrorCode = {
  NOT_FOUND: 'NOT_FOUND',
  BAD_USER_INPUT: 'BAD_USER_INPUT',
  BAD_TIME_RANGE: 'BAD_TIME_RANGE',
  METHOD_NOT_ALLOWED: 'METHOD_NOT_ALLOWED',
  INTERNAL_SERVER_ERROR: 'INTERNAL_SERVER_ERROR',
} as const;
export type OpenDataErrorCode = (typeof OpenDataErrorCode)[keyof typeof OpenDataErrorCode];

/** An expected error: it reaches the client as `{ error: { code, message } }` with `status`. */
export class OpenDataError extends Error {
  constructor(
    readonly status: number,
    readonly code: OpenDataErrorCode,
    message: string,
  ) {
    super(message);
  }
}

/** Headers every open data answer carries: anyone may read it, from any origin. */
const commonHeaders = { 'access-control-allow-origin': '*', 'x-content-type-options': 'nosniff' };

/** Writes `body` with `status` and `headers`; HEAD gets the headers only. */
export function send(
  req: IncomingMessage,
  res: ServerResponse,
  status: number,
  contentType: string,
  body: string,
  headers: Record<string, string> = {},
): void {
  res.writeHead(status, { ...commonHeaders, 'content-type': contentType, 'content-length': String(Buffer.byteLength(body)), ...headers });
  res.end(req.method === 'HEAD' ? undefined : body);
}

export function sendJson(
  req: IncomingMessage,
  res: ServerResponse,
  status: number,
  value: unknown,
  contentType = 'application/json; charset=utf-8',
  headers: Record<string, string> = {},
): void {
  send(req, res, status, contentType, JSON.stringify(value), headers);
}

export function sendError(req: IncomingMessage, res: ServerResponse, error: OpenDataError, headers: Record<string, string> = {}): void {
  sendJson(req, res, error.status, { error: { code: error.code, message: error.message } }, 'application/json; charset=utf-8', headers);
}
