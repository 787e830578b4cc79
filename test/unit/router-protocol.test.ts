import type { IncomingMessage } from 'node:http';
import { describe, expect, it } from 'vitest';
import { GraphQLError } from 'graphql';
import { CloseCode as GraphQLWsCloseCode, MessageType, validateMessage } from 'graphql-ws';
import { CloseCode, closeReasons } from '../../router/src/closeCodes.ts';
import {
  formatError,
  formatResult,
  nextFrame,
  routerClose,
  sseEvents,
  sseParams,
  tokenExpiredError,
  unauthorizedClose,
} from '../../router/src/protocol.ts';

/** The events of an SSE stream: `event:` and `data:` of each. */
function parseEvents(stream: string): Array<{ event: string; data: string }> {
  return stream
    .split('\n\n')
    .filter((block) => block && !block.startsWith(':'))
    .map((block) => {
      const lines = block.split('\n');
      return {
        event: lines.find((line) => line.startsWith('event: '))!.slice('event: '.length),
        data: lines
          .find((line) => line.startsWith('data:'))!
          .slice('data:'.length)
          .trim(),
      };
    });
}

const result = { data: { readings: { value: 21.5, cursor: 'c-1' } } };

describe("the router's subscription protocol (router/src/protocol.ts)", () => {
  it("writes graphql-ws next frames that pass graphql-ws' validateMessage, the shared payload joined as it is", () => {
    for (const id of ['1', 'a "quoted" id', 'ünïcode-🙂']) {
      const frame = nextFrame(id)(Buffer.from(JSON.stringify(result)));
      const message = validateMessage(JSON.parse(frame.toString('utf8')));
      expect(message).toEqual({ id, type: MessageType.Next, payload: result });
    }
  });

  it('shapes errors once: GraphQLErrors, the Rust planner plain objects and thrown errors pass as a graphql-ws error payload', () => {
    const errors = [
      new GraphQLError('Not found', { extensions: { code: 'NOT_FOUND' } }),
      { message: 'from a subgraph', extensions: { code: 'BAD_USER_INPUT' }, path: ['readings'] },
      new Error('upstream closed'),
      'a string',
      tokenExpiredError,
    ].map(formatError);
    expect(validateMessage({ id: '1', type: MessageType.Error, payload: errors })).toBeTruthy();
    expect(errors.map((e) => e.message)).toEqual([
      'Not found',
      'from a subgraph',
      'upstream closed',
      'a string',
      'Unauthorized: the token has expired',
    ]);
    const formatted = formatResult({ data: null, errors: [new GraphQLError('boom', { extensions: { code: 'UPSTREAM_ERROR' } })] });
    expect(validateMessage({ id: '1', type: MessageType.Next, payload: JSON.parse(JSON.stringify(formatted)) })).toBeTruthy();
    expect(formatted.errors[0]).toEqual({ message: 'boom', extensions: { code: 'UPSTREAM_ERROR' } });
  });

  it('writes SSE events whose data are what graphql-ws next messages carry, and a complete event last', () => {
    const stream =
      sseEvents.opening +
      sseEvents.next(Buffer.from(JSON.stringify(result))).toString('utf8') +
      sseEvents.errors([tokenExpiredError]) +
      sseEvents.errors([new Error('execution failed')]) +
      sseEvents.complete;
    const events = parseEvents(stream);
    expect(events.map((e) => e.event)).toEqual([MessageType.Next, MessageType.Next, MessageType.Next, MessageType.Complete]);
    for (const { event, data } of events) {
      if (event === MessageType.Complete) {
        expect(data).toBe('');
        expect(validateMessage({ id: 'sse', type: MessageType.Complete })).toBeTruthy();
        continue;
      }
      const payload = JSON.parse(data) as { errors?: unknown[] };
      expect(validateMessage({ id: 'sse', type: MessageType.Next, payload })).toBeTruthy();
      if (payload.errors) expect(validateMessage({ id: 'sse', type: MessageType.Error, payload: payload.errors })).toBeTruthy();
    }
    expect(sseEvents.headers['content-type']).toMatch(/^text\/event-stream/);
  });

  it("closes with graphql-ws' 4401 for credentials and ours (4801-4803) otherwise, reasons within a close frame", () => {
    const refused = unauthorizedClose(`the token is not valid: ${'x'.repeat(300)}`);
    expect(refused.code).toBe(GraphQLWsCloseCode.Unauthorized);
    expect(Buffer.byteLength(refused.reason)).toBeLessThanOrEqual(123);
    const graphqlWsCodes = new Set(Object.values(GraphQLWsCloseCode).filter((v) => typeof v === 'number'));
    for (const code of [CloseCode.SlowConsumer, CloseCode.TokenExpired, CloseCode.UpstreamLost]) {
      const close = routerClose(code);
      expect(graphqlWsCodes.has(close.code)).toBe(false);
      expect(close.reason).toBe(closeReasons[code]);
      expect(Buffer.byteLength(close.reason)).toBeLessThanOrEqual(123);
    }
  });

  it('reads the params of every SSE request form: GET, JSON, application/graphql, a form; refuses another type', () => {
    const request = (method: string, url: string, contentType?: string) =>
      ({ method, url, headers: contentType ? { 'content-type': contentType } : {} }) as IncomingMessage;
    const query = 'subscription { readings { value } }';
    expect(sseParams(request('GET', `/graphql?query=${encodeURIComponent(query)}&variables=%7B%22a%22%3A1%7D`), undefined)).toEqual({
      params: expect.objectContaining({ query, variables: { a: 1 } }),
    });
    expect(sseParams(request('POST', '/graphql', 'application/json'), JSON.stringify({ query }))).toEqual({ params: { query } });
    expect(sseParams(request('POST', '/graphql', 'application/graphql'), query)).toEqual({ params: { query } });
    expect(sseParams(request('POST', '/graphql', 'application/x-www-form-urlencoded'), new URLSearchParams({ query }).toString())).toEqual({
      params: expect.objectContaining({ query }),
    });
    expect(sseParams(request('GET', '/graphql?variables=nope'), undefined)).toEqual({ params: undefined });
    const refused = sseParams(request('POST', '/graphql', 'text/csv'), 'a,b');
    expect('error' in refused && refused.error.extensions.code).toBe('BAD_REQUEST');
  });
});
