import { Redis } from 'ioredis';
import type { Logger } from '#log';
import { parseMeshSnapshot, type GatewayRecord, type GatewayRegistry, type MeshSnapshot } from './registry.ts';

export interface RedisGatewayRegistryOptions {
  /** `redis://host:port[/db]` */
  url: string;
  logger: Logger;
  /** The hash holding one JSON value per gateway id. Default `iot:gateways`; last known meshes in `<key>:mesh`. */
  key?: string;
}

/**
 * Replaces a record only if it still holds what the caller read (compare and set).
 * KEYS: hash. ARGV: id, JSON read, JSON to write. Returns 1 when written, 0 when it changed, -1 when gone.
 */
const REPLACE_SCRIPT = `
local current = redis.call('HGET', KEYS[1], ARGV[1])
if not current then return -1 end
if current ~= ARGV[2] then return 0 end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[3])
return 1
`;

/**
 * Keeps a mesh snapshot only while its gateway is registered, and unless the one kept for the
 * same registration was observed later (ISO-8601 instants compare as text).
 * KEYS: gateways hash, meshes hash. ARGV: id, JSON snapshot, its incarnation, its observedAt.
 * Returns 1 when written, 0 when not.
 */
const SAVE_MESH_SCRIPT = `
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 0 then return 0 end
local kept = redis.call('HGET', KEYS[2], ARGV[1])
if kept then
  local ok, decoded = pcall(cjson.decode, kept)
  if ok and type(decoded) == 'table' and decoded.incarnation == ARGV[3] and type(decoded.observedAt) == 'string' and decoded.observedAt > ARGV[4] then return 0 end
end
redis.call('HSET', KEYS[2], ARGV[1], ARGV[2])
return 1
`;

/**
 * `GatewayRegistry` in one Redis hash (id -> JSON record) and the last known meshes in another
 * (id -> JSON snapshot), shared by every process using it.
 * `add` is atomic (HSETNX); `update` is compare-and-set, retried when another writer changed the
 * record in between, so concurrent updates never lose one another. The connection reconnects on
 * its own; a command made while Redis is unreachable waits through about 20 reconnect attempts
 * (some 15 s) before it fails.
 */
export class RedisGatewayRegistry implements GatewayRegistry {
  private readonly redis: Redis;
  private readonly key: string;
  private readonly meshKey: string;
  private readonly logger: Logger;

  constructor(options: RedisGatewayRegistryOptions) {
    this.key = options.key ?? 'iot:gateways';
    this.meshKey = `${this.key}:mesh`;
    this.logger = options.logger;
    this.redis = new Redis(options.url, {
      connectionName: 'iot-gateway-registry',
      retryStrategy: (times) => Math.min(50 * times, 1_000),
    });
    let lost = false;
    this.redis.on('ready', () => {
      if (lost) this.logger.info({ key: this.key }, 'gateway registry reconnected to Redis');
      lost = false;
    });
    this.redis.on('close', () => {
      if (lost || this.redis.status === 'end') return;
      lost = true;
      this.logger.warn({ key: this.key }, 'gateway registry lost its Redis connection; reconnecting');
    });
    this.redis.on('error', (error: Error) => this.logger.debug({ key: this.key, err: error }, 'gateway registry Redis connection error'));
  }

  async list(): Promise<GatewayRecord[]> {
    const values = await this.redis.hvals(this.key);
    return values.map((value) => this.parse(value)).filter((record) => record !== undefined);
  }

  async getMany(ids: readonly string[]): Promise<Array<GatewayRecord | undefined>> {
    if (ids.length === 0) return [];
    const values = await this.redis.hmget(this.key, ...ids);
    return values.map((value) => (value === null ? undefined : this.parse(value)));
  }

  async add(record: GatewayRecord): Promise<boolean> {
    return (await this.redis.hsetnx(this.key, record.id, JSON.stringify(record))) === 1;
  }

  async update(id: string, change: (record: GatewayRecord) => GatewayRecord): Promise<GatewayRecord | undefined> {
    for (;;) {
      const current = await this.redis.hget(this.key, id);
      if (current === null) return undefined;
      const record = this.parse(current);
      if (!record) return undefined;
      const next = change(record);
      if (next.id !== id) throw new Error(`gateway registry: an update of ${id} may not change its id to ${next.id}`);
      const replaced = await this.redis.eval(REPLACE_SCRIPT, 1, this.key, id, current, JSON.stringify(next));
      if (replaced === 1) return next;
      if (replaced === -1) return undefined;
      // Another writer changed the record since we read it: apply the change to theirs.
    }
  }

  async remove(id: string): Promise<boolean> {
    const results = await this.redis.multi().hdel(this.key, id).hdel(this.meshKey, id).exec();
    if (!results) throw new Error(`gateway registry: removing ${id} was aborted`);
    for (const [error] of results) if (error) throw error;
    return results[0]![1] === 1;
  }

  async lastKnownMeshes(ids: readonly string[]): Promise<Array<MeshSnapshot | undefined>> {
    if (ids.length === 0) return [];
    const values = await this.redis.hmget(this.meshKey, ...ids);
    return values.map((value) => {
      if (value === null) return undefined;
      let snapshot: MeshSnapshot | undefined;
      try {
        snapshot = parseMeshSnapshot(JSON.parse(value));
      } catch {
        // reported below
      }
      if (!snapshot)
        this.logger.warn(
          { key: this.meshKey, value: value.slice(0, 200) },
          'gateway registry skipped a stored mesh that is not a mesh snapshot',
        );
      return snapshot;
    });
  }

  async saveMesh(gatewayId: string, snapshot: MeshSnapshot): Promise<void> {
    await this.redis.eval(
      SAVE_MESH_SCRIPT,
      2,
      this.key,
      this.meshKey,
      gatewayId,
      JSON.stringify(snapshot),
      snapshot.incarnation,
      snapshot.observedAt,
    );
  }

  async close(): Promise<void> {
    if (this.redis.status === 'ready') await this.redis.quit().catch(() => {});
    this.redis.disconnect();
  }

  private parse(value: string): GatewayRecord | undefined {
    try {
      const record: unknown = JSON.parse(value);
      if (typeof record === 'object' && record !== null && typeof (record as { id?: unknown }).id === 'string')
        return record as GatewayRecord;
    } catch {
      // reported below
    }
    this.logger.warn({ key: this.key, value: value.slice(0, 200) }, 'gateway registry skipped a stored value that is not a gateway record');
    return undefined;
  }
}
