import type { IncomingMessage, ServerResponse } from 'node:http';
import type { GraphQLError } from 'graphql';
import { createGraphQLError } from 'graphql-yoga';
import { anonymousCaller, type Caller } from '#auth';
import type { Logger } from '#log';
import { sendGraphQLError } from './httpError.ts';
import { MemoryRateLimitStore, RedisRateLimitStore, type RateLimitDecision, type RateLimitStore } from '#kit';
import type { RouterPlugin } from './routerPlugin.ts';

export interface RateLimitOptions {
  /** Requests a minute of all the users of one tenant together. Default 600. */
  tenantPerMinute?: number;
  /** Requests a minute of one user of no tenant (an operator), counted by subject. Default 600. */
  operatorPerMinute?: number;
  /** Requests a minute of one anonymous client address. Default 60. */
  anonymousPerMinute?: number;
  /** Requests a minute of an API key whose record is not found (each key has its own `requestsPerMinute`). Default 60. */
  apiKeyPerMinute?: number;
  /** Redis shared by the router instances, so the limits hold across them; in memory when absent. */
  redisUrl?: string;
  /**
   * Anonymous clients are told apart by the last address of `X-Forwarded-For` (the one the proxy
   * in front of the router appended) instead of the connection's. Only behind such a proxy: anyone
   * can send the header. Default false.
   */
  trustForwardedFor?: boolean;
}

export interface RouterRateLimitOptions extends RateLimitOptions {
  /** An API key's own requests a minute, by key id. */
  apiKeyLimit: (id: string) => number | undefined;
  logger: Logger;
  /** Where buckets are kept; by default Redis with `redisUrl`, else this process's memory. */
  store?: RateLimitStore;
}

export interface UseRateLimitOptions {
  /** The limits and where they are counted; shared with `useCredentials`, which counts failed authentications. */
  limiter: RouterRateLimit;
  /** The caller `useCredentials` authenticated for a request (or a graphql-ws connection's upgrade request). */
  callerOf: (request: IncomingMessage) => Caller | undefined;
}

/**
 * Requests a minute per caller (see `RouterRateLimit`): every admitted HTTP request (`/graphql`,
 * SSE, the open data downloads) and every graphql-ws operation takes one; its store is closed with
 * the router. Listed after `useCredentials`, which finds the caller.
 * Ours, not the engine's: Hive Gateway's rate limiting counts fields per operation, not callers per minute before anything is read.
 */
export function useRateLimit(options: UseRateLimitOptions): RouterPlugin {
  const { limiter, callerOf } = options;
  return {
    onAdmitRequest(req, res) {
      const caller = callerOf(req);
      return caller ? limiter.admitRequest(req, res, caller) : true;
    },
    async onAdmitOperation(request) {
      const caller = callerOf(request);
      return caller ? limiter.refusal(caller, request) : undefined;
    },
    onDispose: () => limiter.close(),
  };
}

const MINUTE_MS = 60_000;
/** Addresses refused before their credentials are checked, remembered at most (a flood of addresses forgets them). */
const MAX_LOCKED_OUT = 10_000;

/**
 * Rate limits of the router, per bucket of callers: `tenant:<t>` for the users of a tenant,
 * `user:<subject>` for operators, `apikey:<id>` with the key's own quota, `anonymous:<address>`.
 * Every `/graphql` and `/opendata` HTTP request (SSE subscriptions included) and every graphql-ws
 * operation takes one request from its caller's bucket. Over the limit: HTTP 429 with
 * `Retry-After`, or on graphql-ws an error for that operation, both RATE_LIMITED with
 * `extensions.retryAfterSeconds`. HTTP answers carry `RateLimit-Limit`, `RateLimit-Remaining` and
 * `RateLimit-Reset` (seconds until the bucket is full again; IETF draft RateLimit header fields).
 *
 * When the store fails (Redis unreachable), requests are let through and the failure is logged:
 * the limits protect the platform, they must not take it down.
 */
export class RouterRateLimit {
  readonly #options: RouterRateLimitOptions;
  readonly #store: RateLimitStore;
  readonly #ownsStore: boolean;
  /** Address → until when (ms) its credentials are refused unchecked, after failures over its limit. */
  readonly #lockedOut = new Map<string, number>();
  #lastErrorLog = 0;

  constructor(options: RouterRateLimitOptions) {
    this.#options = options;
    this.#ownsStore = !options.store;
    this.#store =
      options.store ??
      (options.redisUrl
        ? new RedisRateLimitStore({ url: options.redisUrl, onError: (error) => this.#logFailure(error) })
        : new MemoryRateLimitStore());
  }

  /** The bucket a caller's requests are counted in, and its requests a minute. */
  bucketOf(caller: Caller, request: IncomingMessage): { key: string; limit: number; label: string } {
    const o = this.#options;
    switch (caller.kind) {
      case 'user':
        return caller.tenant !== null
          ? { key: `tenant:${caller.tenant}`, limit: o.tenantPerMinute ?? 600, label: `tenant ${caller.tenant}` }
          : { key: `user:${caller.subject}`, limit: o.operatorPerMinute ?? 600, label: `user ${caller.subject}` };
      case 'apiKey':
        return {
          key: `apikey:${caller.subject}`,
          limit: o.apiKeyLimit(caller.subject) ?? o.apiKeyPerMinute ?? 60,
          label: `API key ${caller.subject}`,
        };
      case 'anonymous':
        return {
          key: `anonymous:${this.#addressOf(request)}`,
          limit: o.anonymousPerMinute ?? 60,
          label: 'anonymous callers of this address',
        };
    }
  }

  /** Takes one request of the caller's bucket; undefined when the store failed (let through). */
  async take(caller: Caller, request: IncomingMessage): Promise<(RateLimitDecision & { label: string }) | undefined> {
    const { key, limit, label } = this.bucketOf(caller, request);
    try {
      return { ...(await this.#store.take(key, Math.max(1, limit), MINUTE_MS)), label };
    } catch (error) {
      this.#logFailure(error as Error);
      return undefined;
    }
  }

  /**
   * An HTTP request: sets the RateLimit headers and resolves true, or answers 429 and resolves
   * false.
   */
  async admitRequest(req: IncomingMessage, res: ServerResponse, caller: Caller): Promise<boolean> {
    const decision = await this.take(caller, req);
    if (!decision) return true;
    const headers = {
      'ratelimit-limit': String(decision.limit),
      'ratelimit-remaining': String(decision.remaining),
      'ratelimit-reset': String(Math.ceil(decision.resetMs / 1000)),
    };
    if (decision.allowed) {
      for (const [name, value] of Object.entries(headers)) res.setHeader(name, value);
      return true;
    }
    const error = rateLimitedError(decision);
    sendGraphQLError(res, 429, error, { ...headers, 'retry-after': String(error.extensions['retryAfterSeconds']) });
    return false;
  }

  /** A graphql-ws operation: undefined when allowed, else the RATE_LIMITED error to answer it with. */
  async refusal(caller: Caller, request: IncomingMessage): Promise<GraphQLError | undefined> {
    const decision = await this.take(caller, request);
    return decision && !decision.allowed ? rateLimitedError(decision) : undefined;
  }

  /**
   * A failed authentication (a bad or expired token, an unknown API key): it takes one request of
   * its address's bucket, the one anonymous callers of that address share, so guessing
   * credentials is limited like anonymous calls. When none is left, the RATE_LIMITED error to
   * answer instead of 401; credentials from that address are then refused without being checked
   * (`lockout`) until the bucket allows a request again, so a right guess is not told apart.
   */
  async failedAuthentication(request: IncomingMessage): Promise<GraphQLError | undefined> {
    const decision = await this.take(anonymousCaller, request);
    if (!decision || decision.allowed) return undefined;
    const address = this.#addressOf(request);
    const now = Date.now();
    if (this.#lockedOut.size >= MAX_LOCKED_OUT) for (const [key, until] of this.#lockedOut) if (until <= now) this.#lockedOut.delete(key);
    if (this.#lockedOut.size >= MAX_LOCKED_OUT) this.#lockedOut.clear();
    this.#lockedOut.set(address, now + decision.retryAfterMs);
    return rateLimitedError({ ...decision, label: 'failed authentications and anonymous callers of this address' });
  }

  /** Before credentials are checked: the RATE_LIMITED error while their address is locked out after failing too often. */
  lockout(request: IncomingMessage): GraphQLError | undefined {
    const address = this.#addressOf(request);
    const until = this.#lockedOut.get(address);
    if (until === undefined) return undefined;
    const left = until - Date.now();
    if (left <= 0) return void this.#lockedOut.delete(address);
    return rateLimitedError({
      allowed: false,
      limit: this.#options.anonymousPerMinute ?? 60,
      remaining: 0,
      resetMs: left,
      retryAfterMs: left,
      label: 'failed authentications and anonymous callers of this address',
    });
  }

  async close(): Promise<void> {
    if (this.#ownsStore) await this.#store.close();
  }

  #addressOf(request: IncomingMessage): string {
    // The proxy appends the address it saw; what comes before is the client's to write.
    const forwarded = this.#options.trustForwardedFor ? request.headers['x-forwarded-for'] : undefined;
    const appended = (Array.isArray(forwarded) ? forwarded.at(-1) : forwarded)?.split(',').at(-1)?.trim();
    return appended || request.socket.remoteAddress || 'unknown';
  }

  #logFailure(error: Error): void {
    // One line every 10 s at most: a Redis outage would otherwise log once per request.
    if (Date.now() - this.#lastErrorLog < 10_000) return;
    this.#lastErrorLog = Date.now();
    this.#options.logger.warn({ err: error.message }, 'rate limit store failed; requests are let through');
  }
}

function rateLimitedError(decision: RateLimitDecision & { label: string }): GraphQLError {
  const retryAfterSeconds = Math.max(1, Math.ceil(decision.retryAfterMs / 1000));
  // Yoga's factory: graphql-ws takes only errors of the graphql instance it was loaded with.
  return createGraphQLError(`Too many requests of ${decision.label}: at most ${decision.limit} a minute; retry in ${retryAfterSeconds} s`, {
    extensions: { code: 'RATE_LIMITED', retryAfterSeconds },
  });
}
