import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import type { Logger } from '#log';

/** A key claimed by this caller: run the operation, then `complete` or `release` the claim. */
export interface IdempotencyClaim {
  state: 'claimed';
  key: string;
  fingerprint: string;
  /** Tells this claim from a later one of the same key (after this one expired). */
  token: string;
}

/** What `claim` finds: the key is now ours, another request holds it, or its result is stored. */
export type IdempotencyState =
  | IdempotencyClaim
  | { state: 'running'; fingerprint: string }
  | { state: 'done'; fingerprint: string; result: string };

/**
 * Remembers what was done under an idempotency key, so that a retried mutation returns its first
 * result instead of acting twice. `fingerprint` identifies the request (operation and input):
 * the caller compares it to tell a retry from a different request reusing the key.
 */
export interface IdempotencyStore {
  /** Claims `key` for a request, unless another holds it (`running`) or it is `done`. */
  claim(key: string, fingerprint: string): Promise<IdempotencyState>;
  /** Stores the result (JSON text) of a claimed request for the store's retention. */
  complete(claim: IdempotencyClaim, result: string): Promise<void>;
  /** Frees the key (the request changed nothing): a retry runs again. */
  release(claim: IdempotencyClaim): Promise<void>;
  close(): Promise<void>;
}

export interface IdempotencyStoreOptions {
  /** How long a result is kept. Default 24 h. */
  retentionMs?: number;
  /** How long a claim holds without a result (its process may have died). Default 10 min. */
  claimTimeoutMs?: number;
}

const DAY_MS = 86_400_000;
const CLAIM_TIMEOUT_MS = 600_000;

type Stored = { state: 'running'; fingerprint: string; token: string } | { state: 'done'; fingerprint: string; result: string };

/** The embedded default: results in this process's memory (at most `maxEntries`, oldest dropped first). */
export class MemoryIdempotencyStore implements IdempotencyStore {
  private readonly entries = new Map<string, { value: Stored; expires: number }>();
  private readonly retentionMs: number;
  private readonly claimTimeoutMs: number;
  private readonly maxEntries: number;

  constructor(options: IdempotencyStoreOptions & { maxEntries?: number } = {}) {
    this.maxEntries = options.maxEntries ?? 100_000;
    this.retentionMs = options.retentionMs ?? DAY_MS;
    this.claimTimeoutMs = options.claimTimeoutMs ?? CLAIM_TIMEOUT_MS;
  }

  async claim(key: string, fingerprint: string): Promise<IdempotencyState> {
    const now = Date.now();
    const entry = this.entries.get(key);
    if (entry && entry.expires > now) {
      return entry.value.state === 'running' ? { state: 'running', fingerprint: entry.value.fingerprint } : entry.value;
    }
    const token = randomUUID();
    this.set(key, { state: 'running', fingerprint, token }, now + this.claimTimeoutMs);
    return { state: 'claimed', key, fingerprint, token };
  }

  async complete(claim: IdempotencyClaim, result: string): Promise<void> {
    if (this.holds(claim)) this.set(claim.key, { state: 'done', fingerprint: claim.fingerprint, result }, Date.now() + this.retentionMs);
  }

  async release(claim: IdempotencyClaim): Promise<void> {
    if (this.holds(claim)) this.entries.delete(claim.key);
  }

  async close(): Promise<void> {
    this.entries.clear();
  }

  private holds(claim: IdempotencyClaim): boolean {
    const value = this.entries.get(claim.key)?.value;
    return value?.state === 'running' && value.token === claim.token;
  }

  private set(key: string, value: Stored, expires: number): void {
    // Re-inserted at the end: the map stays in order of last change, oldest first.
    this.entries.delete(key);
    this.entries.set(key, { value, expires });
    for (const [oldest, entry] of this.entries) {
      if (this.entries.size <= this.maxEntries && entry.expires > Date.now()) break;
      this.entries.delete(oldest);
    }
  }
}

/** Replaces (or deletes, without ARGV[2]) the value only if it still is the claim ARGV[1]. */
const IF_CLAIMED = `
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
if ARGV[2] then redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3]) else redis.call('DEL', KEYS[1]) end
return 1
`;

/**
 * Results in Redis (one key per idempotency key, expiring after the retention), shared by every
 * instance of the API: a retry that lands on another instance still finds the first result.
 * Claims are `SET NX`, so two concurrent requests with one key never both run.
 */
export class RedisIdempotencyStore implements IdempotencyStore {
  private readonly redis: Redis;
  private readonly prefix: string;
  private readonly retentionMs: number;
  private readonly claimTimeoutMs: number;

  constructor(options: IdempotencyStoreOptions & { url: string; logger: Logger; prefix?: string }) {
    this.prefix = options.prefix ?? 'iot:idempotency:';
    this.retentionMs = options.retentionMs ?? DAY_MS;
    this.claimTimeoutMs = options.claimTimeoutMs ?? CLAIM_TIMEOUT_MS;
    this.redis = new Redis(options.url, { connectionName: 'iot-idempotency', retryStrategy: (times) => Math.min(50 * times, 1_000) });
    this.redis.on('error', (error: Error) => options.logger.debug({ err: error }, 'idempotency store Redis connection error'));
  }

  async claim(key: string, fingerprint: string): Promise<IdempotencyState> {
    const token = randomUUID();
    const running = JSON.stringify({ state: 'running', fingerprint, token } satisfies Stored);
    // Two rounds at most: a value that expires between SET NX and GET is claimed on the second.
    for (let round = 0; round < 2; round++) {
      if ((await this.redis.set(this.prefix + key, running, 'PX', this.claimTimeoutMs, 'NX')) === 'OK') return { state: 'claimed', key, fingerprint, token };
      const current = await this.redis.get(this.prefix + key);
      if (current === null) continue;
      const stored = JSON.parse(current) as Stored;
      return stored.state === 'running' ? { state: 'running', fingerprint: stored.fingerprint } : stored;
    }
    throw new Error(`idempotency key ${key} could not be claimed`);
  }

  async complete(claim: IdempotencyClaim, result: string): Promise<void> {
    const done = JSON.stringify({ state: 'done', fingerprint: claim.fingerprint, result } satisfies Stored);
    await this.redis.eval(IF_CLAIMED, 1, this.prefix + claim.key, this.claimText(claim), done, this.retentionMs);
  }

  async release(claim: IdempotencyClaim): Promise<void> {
    await this.redis.eval(IF_CLAIMED, 1, this.prefix + claim.key, this.claimText(claim));
  }

  async close(): Promise<void> {
    if (this.redis.status === 'ready') await this.redis.quit().catch(() => {});
    this.redis.disconnect();
  }

  private claimText(claim: IdempotencyClaim): string {
    return JSON.stringify({ state: 'running', fingerprint: claim.fingerprint, token: claim.token } satisfies Stored);
  }
}
