import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import type { Logger } from '#log';
import type { ActuatorInfo, ActuatorKind } from './actuators.ts';
import { JsonFile } from './json-file.ts';

/** Who a grant is for: a user of the tenant (a token's `sub`) or a partner API key (its id). */
export interface Grantee {
  kind: 'USER' | 'API_KEY';
  id: string;
}

/** Which actuators a grant (or a group command) covers: the listed ones, or those of a gateway, room and kind. */
export interface ActuatorSelection {
  actuatorIds?: string[];
  gatewayId?: string;
  room?: string;
  kind?: ActuatorKind;
}

/** A right to command actuators of `tenant`, given to `grantee`. */
export interface ActuatorGrantRecord extends ActuatorSelection {
  id: string;
  tenant: string;
  grantee: Grantee;
  /** Who granted it: a token's `sub`. */
  grantedBy: string;
  /** ISO-8601. */
  grantedAt: string;
}

/** A grant as it is asked for: the store gives it its id and time. */
export type NewActuatorGrant = Omit<ActuatorGrantRecord, 'id' | 'grantedAt'>;

/**
 * Whether an actuator is one `selection` names: every part given must match (the listed ids, the
 * gateway, the node's room or street, the kind); a selection of nothing matches nothing.
 */
export function selectionMatches(selection: ActuatorSelection, actuator: ActuatorInfo): boolean {
  if (!selection.actuatorIds?.length && !selection.gatewayId) return false;
  if (selection.actuatorIds?.length && !selection.actuatorIds.includes(actuator.id)) return false;
  if (selection.gatewayId && selection.gatewayId !== actuator.gatewayId) return false;
  if (selection.room && selection.room !== actuator.room) return false;
  if (selection.kind && selection.kind !== actuator.kind) return false;
  return true;
}

/**
 * Whether a grant covers an actuator now: the actuator is its tenant's (nodes change tenants, and
 * a grant of tenant A never covers what is now tenant B's) and its selection names it.
 */
export function grantCovers(grant: ActuatorGrantRecord, actuator: ActuatorInfo): boolean {
  return grant.tenant === actuator.tenant && selectionMatches(grant, actuator);
}

/**
 * Tenants' grants of command rights on their actuators. Every read goes to the store (no cache):
 * a revocation is seen by the next request of every API instance.
 */
export interface ActuatorGrantStore {
  /** Records a new grant, with a new id and the time now. */
  grant(grant: NewActuatorGrant): Promise<ActuatorGrantRecord>;
  /** Removes a grant: the one removed, or undefined when there was none. */
  revoke(id: string): Promise<ActuatorGrantRecord | undefined>;
  get(id: string): Promise<ActuatorGrantRecord | undefined>;
  /** A tenant's grants (every tenant's without one), oldest first. */
  listByTenant(tenant?: string): Promise<ActuatorGrantRecord[]>;
  /** The grants given to `grantee` by any tenant, oldest first. */
  listByGrantee(grantee: Grantee): Promise<ActuatorGrantRecord[]>;
  /** The grants given to `grantee` that cover `actuator` now (`grantCovers`). */
  matching(grantee: Grantee, actuator: ActuatorInfo): Promise<ActuatorGrantRecord[]>;
  close(): Promise<void>;
}

const byAge = (a: ActuatorGrantRecord, b: ActuatorGrantRecord) => a.grantedAt.localeCompare(b.grantedAt) || a.id.localeCompare(b.id);
const sameGrantee = (a: Grantee, b: Grantee) => a.kind === b.kind && a.id === b.id;

function newGrant(grant: NewActuatorGrant): ActuatorGrantRecord {
  return { ...grant, id: `grant-${randomUUID()}`, grantedAt: new Date().toISOString() };
}

/**
 * The embedded default: grants in memory, written through to a JSON file after every change and
 * read back at start (`path` beside the registry file: `grantsFileOf`); memory only without one.
 */
export class FileActuatorGrantStore implements ActuatorGrantStore {
  private readonly grants = new Map<string, ActuatorGrantRecord>();

  private constructor(private readonly file: JsonFile<ActuatorGrantRecord[]> | undefined) {}

  static async open(path?: string): Promise<FileActuatorGrantStore> {
    const store = new FileActuatorGrantStore(path ? new JsonFile(path) : undefined);
    const stored: unknown = (await store.file?.read([])) ?? [];
    if (!Array.isArray(stored)) throw new Error(`${path} does not hold a JSON array of actuator grants`);
    for (const grant of stored) if (isGrantRecord(grant)) store.grants.set(grant.id, grant);
    return store;
  }

  async grant(grant: NewActuatorGrant): Promise<ActuatorGrantRecord> {
    const record = newGrant(grant);
    this.grants.set(record.id, record);
    await this.persist();
    return record;
  }

  async revoke(id: string): Promise<ActuatorGrantRecord | undefined> {
    const grant = this.grants.get(id);
    if (!grant) return undefined;
    this.grants.delete(id);
    await this.persist();
    return grant;
  }

  async get(id: string): Promise<ActuatorGrantRecord | undefined> {
    return this.grants.get(id);
  }

  async listByTenant(tenant?: string): Promise<ActuatorGrantRecord[]> {
    return [...this.grants.values()].filter((g) => tenant === undefined || g.tenant === tenant).sort(byAge);
  }

  async listByGrantee(grantee: Grantee): Promise<ActuatorGrantRecord[]> {
    return [...this.grants.values()].filter((g) => sameGrantee(g.grantee, grantee)).sort(byAge);
  }

  async matching(grantee: Grantee, actuator: ActuatorInfo): Promise<ActuatorGrantRecord[]> {
    return (await this.listByGrantee(grantee)).filter((g) => grantCovers(g, actuator));
  }

  async close(): Promise<void> {
    await this.file?.flushed();
  }

  private persist(): Promise<void> {
    return this.file?.write(() => [...this.grants.values()]) ?? Promise.resolve();
  }
}

/** Where the grants of the registry at `path` are kept. */
export function grantsFileOf(path: string): string {
  return path.endsWith('.json') ? `${path.slice(0, -'.json'.length)}.grants.json` : `${path}.grants.json`;
}

export interface RedisActuatorGrantStoreOptions {
  /** `redis://host:port[/db]` */
  url: string;
  logger: Logger;
  /** The hash of grants by id. Default `iot:actuator-grants`; the sets of ids per grantee and per tenant under `<key>:`. */
  key?: string;
}

/**
 * Removes a grant and its ids from its grantee's and tenant's sets, atomically.
 * KEYS: hash. ARGV: id, key prefix of the sets. Returns the removed grant's JSON, or false.
 */
const REVOKE_SCRIPT = `
local stored = redis.call('HGET', KEYS[1], ARGV[1])
if not stored then return false end
local ok, grant = pcall(cjson.decode, stored)
if ok and type(grant) == 'table' and type(grant.grantee) == 'table' then
  redis.call('SREM', ARGV[2] .. 'grantee:' .. tostring(grant.grantee.kind) .. ':' .. tostring(grant.grantee.id), ARGV[1])
  redis.call('SREM', ARGV[2] .. 'tenant:' .. tostring(grant.tenant), ARGV[1])
end
redis.call('HDEL', KEYS[1], ARGV[1])
return stored
`;

/**
 * Grants in Redis, shared by every API instance: a hash (id -> JSON grant) and a set of ids per
 * grantee and per tenant, changed together (MULTI, or a script for revocations). Nothing is
 * cached: a revocation is seen by the next request anywhere.
 */
export class RedisActuatorGrantStore implements ActuatorGrantStore {
  private readonly redis: Redis;
  private readonly key: string;
  private readonly logger: Logger;

  constructor(options: RedisActuatorGrantStoreOptions) {
    this.key = options.key ?? 'iot:actuator-grants';
    this.logger = options.logger;
    this.redis = new Redis(options.url, { connectionName: 'iot-actuator-grants', retryStrategy: (times) => Math.min(50 * times, 1_000) });
    this.redis.on('error', (error: Error) => this.logger.debug({ key: this.key, err: error }, 'actuator grants Redis connection error'));
  }

  async grant(grant: NewActuatorGrant): Promise<ActuatorGrantRecord> {
    const record = newGrant(grant);
    const results = await this.redis
      .multi()
      .hset(this.key, record.id, JSON.stringify(record))
      .sadd(this.granteeKey(record.grantee), record.id)
      .sadd(this.tenantKey(record.tenant), record.id)
      .exec();
    if (!results) throw new Error(`actuator grants: recording ${record.id} was aborted`);
    for (const [error] of results) if (error) throw error;
    return record;
  }

  async revoke(id: string): Promise<ActuatorGrantRecord | undefined> {
    const removed = (await this.redis.eval(REVOKE_SCRIPT, 1, this.key, id, `${this.key}:`)) as string | null;
    return removed === null ? undefined : this.parse(removed);
  }

  async get(id: string): Promise<ActuatorGrantRecord | undefined> {
    const value = await this.redis.hget(this.key, id);
    return value === null ? undefined : this.parse(value);
  }

  async listByTenant(tenant?: string): Promise<ActuatorGrantRecord[]> {
    if (tenant === undefined) return this.parseAll(await this.redis.hvals(this.key));
    return this.byIds(await this.redis.smembers(this.tenantKey(tenant)));
  }

  async listByGrantee(grantee: Grantee): Promise<ActuatorGrantRecord[]> {
    return this.byIds(await this.redis.smembers(this.granteeKey(grantee)));
  }

  async matching(grantee: Grantee, actuator: ActuatorInfo): Promise<ActuatorGrantRecord[]> {
    return (await this.listByGrantee(grantee)).filter((g) => grantCovers(g, actuator));
  }

  async close(): Promise<void> {
    if (this.redis.status === 'ready') await this.redis.quit().catch(() => {});
    this.redis.disconnect();
  }

  private async byIds(ids: string[]): Promise<ActuatorGrantRecord[]> {
    if (ids.length === 0) return [];
    return this.parseAll((await this.redis.hmget(this.key, ...ids)).filter((value) => value !== null));
  }

  private parseAll(values: string[]): ActuatorGrantRecord[] {
    return values
      .map((value) => this.parse(value))
      .filter((grant) => grant !== undefined)
      .sort(byAge);
  }

  private granteeKey(grantee: Grantee): string {
    return `${this.key}:grantee:${grantee.kind}:${grantee.id}`;
  }

  private tenantKey(tenant: string): string {
    return `${this.key}:tenant:${tenant}`;
  }

  private parse(value: string): ActuatorGrantRecord | undefined {
    try {
      const grant: unknown = JSON.parse(value);
      if (isGrantRecord(grant)) return grant;
    } catch {
      // reported below
    }
    this.logger.warn({ key: this.key, value: value.slice(0, 200) }, 'actuator grants skipped a stored value that is not a grant');
    return undefined;
  }
}

function isGrantRecord(value: unknown): value is ActuatorGrantRecord {
  if (typeof value !== 'object' || value === null) return false;
  const grant = value as Partial<ActuatorGrantRecord>;
  return (
    typeof grant.id === 'string' &&
    typeof grant.tenant === 'string' &&
    typeof grant.grantedBy === 'string' &&
    typeof grant.grantedAt === 'string' &&
    typeof grant.grantee === 'object' &&
    grant.grantee !== null &&
    (grant.grantee.kind === 'USER' || grant.grantee.kind === 'API_KEY') &&
    typeof grant.grantee.id === 'string'
  );
}
