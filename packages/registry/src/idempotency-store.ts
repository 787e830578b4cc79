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
  IdempotencyClaim | { state: 'running'; fingerprint: string } | { state: 'done'; fingerprint: string; result: string };

/**
 * Remembers what was done under an idempotency key, so that a retried mutation returns its first
 * result instead of acting twice. `fingerprint` identifies the request (operation and input):
 * the caller compares it to tell a retry from a different request reusing the key.
 */
export interface IdempotencyStore {
  /**
   * Claims `key` for a request, unless another holds it (`running`) or it is `done`. `owner` is
   * whose key it is (the caller's namespace): a store that bounds its size bounds each owner's
   * share, so that one caller's keys never push out another's.
   */
  claim(key: string, fingerprint: string, owner: string): Promise<IdempotencyState>;
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

export interface MemoryIdempotencyStoreOptions extends IdempotencyStoreOptions {
  /** Keys an owner keeps at most; a new one drops that owner's oldest. Default 1000. */
  maxEntriesPerOwner?: number;
  /** Keys kept at most, all owners together (a bound on memory). Default 100,000. */
  maxEntries?: number;
}

/**
 * The embedded default: results in this process's memory, at most `maxEntriesPerOwner` per
 * owner (a caller that uses more keys loses its own oldest, never another's) and `maxEntries` in
 * all, expired ones dropped first.
 */
export class MemoryIdempotencyStore implements IdempotencyStore {
  private readonly entries = new Map<string, { value: Stored; expires: number; owner: string }>();
  /** Each owner's keys, in order of last change, oldest first. */
  private readonly owners = new Map<string, Set<string>>();
  private readonly retentionMs: number;
  private readonly claimTimeoutMs: number;
  private readonly maxEntriesPerOwner: number;
  private readonly maxEntries: number;

  constructor(options: MemoryIdempotencyStoreOptions = {}) {
    this.maxEntriesPerOwner = options.maxEntriesPerOwner ?? 1_000;
    this.maxEntries = options.maxEntries ?? 100_000;
    this.retentionMs = options.retentionMs ?? DAY_MS;
    this.claimTimeoutMs = options.claimTimeoutMs ?? CLAIM_TIMEOUT_MS;
  }

  async claim(key: string, fingerprint: string, owner: string): Promise<IdempotencyState> {
    const now = Date.now();
    const entry = this.entries.get(key);
    if (entry && entry.expires > now) {
      return entry.value.state === 'running' ? { state: 'running', fingerprint: entry.value.fingerprint } : entry.value;
    }
    const token = randomUUID();
    this.set(key, owner, { state: 'running', fingerprint, token }, now + this.claimTimeoutMs);
    return { state: 'claimed', key, fingerprint, token };
  }

  async complete(claim: IdempotencyClaim, result: string): Promise<void> {
    const entry = this.entries.get(claim.key);
    if (entry && this.holds(claim))
      this.set(claim.key, entry.owner, { state: 'done', fingerprint: claim.fingerprint, result }, Date.now() + this.retentionMs);
  }

  async release(claim: IdempotencyClaim): Promise<void> {
    if (this.holds(claim)) this.delete(claim.key);
  }

  async close(): Promise<void> {
    this.entries.clear();
    this.owners.clear();
  }

  private holds(claim: IdempotencyClaim): boolean {
    const value = this.entries.get(claim.key)?.value;
    return value?.state === 'running' && value.token === claim.token;
  }

  private set(key: string, owner: string, value: Stored, expires: number): void {
    // Re-inserted at the end: the map and the owner's set stay in order of last change, oldest first.
    this.delete(key);
    this.entries.set(key, { value, expires, owner });
    let keys = this.owners.get(owner);
    if (!keys) this.owners.set(owner, (keys = new Set()));
    keys.add(key);
    for (const oldest of keys) {
      if (keys.size <= this.maxEntriesPerOwner) break;
      this.delete(oldest);
    }
    for (const [oldest, entry] of this.entries) {
      if (this.entries.size <= this.maxEntries && entry.expires > Date.now()) break;
      this.delete(oldest);
    }
  }

  private delete(key: string): void {
    const entry = this.entries.get(key);
    if (!entry) return;
    this.entries.delete(key);
    const keys = this.owners.get(entry.owner);
    keys?.delete(key);
    if (keys?.size === 0) this.owners.delete(entry.owner);
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
 * Claims are `SET NX`, so two concurrent requests with one key never both run. Owners are not
 * counted here: entries go only when their retention ends.
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

  async claim(key: string, fingerprint: string, _owner: string): Promise<IdempotencyState> {
    const token = randomUUID();
    const running = JSON.stringify({ state: 'running', fingerprint, token } satisfies Stored);
    // Two rounds at most: a value that expires between SET NX and GET is claimed on the second.
    for (let round = 0; round < 2; round++) {
      if ((await this.redis.set(this.prefix + key, running, 'PX', this.claimTimeoutMs, 'NX')) === 'OK')
        return { state: 'claimed', key, fingerprint, token };
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
