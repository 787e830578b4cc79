import { Redis } from 'ioredis';
import type { Logger } from '#log';
import {
  AUDIT_LIMIT,
  EVENT_LIMIT,
  isEventRecord,
  isRefusal,
  REFUSAL_LIMIT,
  type ActuatorCommandRecord,
  type ActuatorEventRecord,
  type ActuatorLog,
  type ActuatorLogEntry,
  type ActuatorLogListener,
  type ActuatorLogOptions,
  type ActuatorStateRecord,
  type AuditPage,
} from './actuator-log.ts';

export interface RedisActuatorLogOptions extends ActuatorLogOptions {
  /** `redis://host:port[/db]` */
  url: string;
  logger: Logger;
  /** Prefix of its keys, a Redis Cluster hash tag so that one script may touch them all. Default `{iot:actuators}`. */
  prefix?: string;
  /** How long one XREAD of the listening loop blocks (ms). Default 5000. */
  blockMs?: number;
}

/**
 * Appends an event in one step. KEYS: events stream, states hash, trail sorted set of commands
 * sent, trail hash, trail counter, trail sorted set of refusals, hash of PENDING commands (command
 * id -> actuator id, of every actuator). ARGV: event JSON, event limit, actuator id, state JSON or
 * '', command id or '', command JSON, audit limit, refusal limit, '1' for a new refusal, the
 * command's outcome, '1' to append only while the command is PENDING. A new command takes the
 * trail's next number (its order) in its part (sent or refused); older ones than that part's limit
 * leave both the set and the hash. Returns the event's stream id, or false when it was to be
 * appended only while PENDING and is not.
 */
const APPEND_SCRIPT = `
if ARGV[11] == '1' and redis.call('HEXISTS', KEYS[7], ARGV[5]) == 0 then return false end
if ARGV[5] ~= '' then
  if redis.call('HEXISTS', KEYS[4], ARGV[5]) == 0 then
    local part, limit = KEYS[3], tonumber(ARGV[7])
    if ARGV[9] == '1' then part, limit = KEYS[6], tonumber(ARGV[8]) end
    redis.call('ZADD', part, redis.call('INCR', KEYS[5]), ARGV[5])
    local excess = redis.call('ZCARD', part) - limit
    if excess > 0 then
      local dropped = redis.call('ZRANGE', part, 0, excess - 1)
      redis.call('ZREMRANGEBYRANK', part, 0, excess - 1)
      redis.call('HDEL', KEYS[4], unpack(dropped))
      redis.call('HDEL', KEYS[7], unpack(dropped))
    end
  end
  redis.call('HSET', KEYS[4], ARGV[5], ARGV[6])
  if ARGV[10] == 'PENDING' then redis.call('HSET', KEYS[7], ARGV[5], ARGV[3]) else redis.call('HDEL', KEYS[7], ARGV[5]) end
end
if ARGV[4] ~= '' then redis.call('HSET', KEYS[2], ARGV[3], ARGV[4]) end
return redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[2], '*', 'e', ARGV[1])
`;

type StreamEntry = [id: string, fields: string[]];

/**
 * `ActuatorLog` in Redis, shared by every API instance: the events in one stream (`<prefix>:events`,
 * trimmed with MAXLEN ~), states in a hash, and per actuator its trail as two sorted sets of command
 * ids by arrival (sent, refused) with the commands in a hash, and a hash of the PENDING commands
 * (for the sweep of commands a restart interrupted). One connection writes and reads; a second one
 * blocks on XREAD to hear events, whoever appended them, while anyone listens.
 */
export class RedisActuatorLog implements ActuatorLog {
  private readonly redis: Redis;
  private reader: Redis | undefined;
  private readonly listeners = new Set<ActuatorLogListener>();
  private readonly prefix: string;
  private readonly stream: string;
  /** A hash of the commands whose latest word is PENDING: command id -> actuator id. */
  private readonly pendingKey: string;
  private readonly auditLimit: number;
  private readonly refusalLimit: number;
  private readonly eventLimit: number;
  private readonly blockMs: number;
  private readonly logger: Logger;
  /** Bumped to stop the listening loop (nobody listens, or closed). */
  private generation = 0;
  private loop: Promise<void> | undefined;
  /** Settles once the listening loop knows where the stream ends. */
  private started: Promise<unknown> = Promise.resolve();
  private closed = false;
  private readonly url: string;

  constructor(options: RedisActuatorLogOptions) {
    this.prefix = options.prefix ?? '{iot:actuators}';
    this.stream = `${this.prefix}:events`;
    this.pendingKey = `${this.prefix}:pending`;
    this.auditLimit = options.auditLimit ?? AUDIT_LIMIT;
    this.refusalLimit = options.refusalLimit ?? REFUSAL_LIMIT;
    this.eventLimit = options.eventLimit ?? EVENT_LIMIT;
    this.blockMs = options.blockMs ?? 5_000;
    this.logger = options.logger;
    this.url = options.url;
    this.redis = this.connect(options.url, 'writer');
    this.redis.defineCommand('appendActuatorEvent', { numberOfKeys: 7, lua: APPEND_SCRIPT });
  }

  async append(event: ActuatorEventRecord): Promise<ActuatorLogEntry> {
    return { position: (await this.run(event, false))!, event };
  }

  async appendIfPending(event: ActuatorEventRecord & { command: ActuatorCommandRecord }): Promise<ActuatorLogEntry | undefined> {
    const position = await this.run(event, true);
    return position ? { position, event } : undefined;
  }

  async pendingCommands(): Promise<ActuatorCommandRecord[]> {
    const pending = await this.redis.hgetall(this.pendingKey);
    const commands = await Promise.all(
      Object.entries(pending).map(async ([commandId, actuatorId]) => {
        const value = await this.redis.hget(this.trailKey(actuatorId, 'commands'), commandId);
        const command = value === null ? undefined : (this.parse(value) as ActuatorCommandRecord | undefined);
        return command?.outcome === 'PENDING' ? [command] : [];
      }),
    );
    return commands.flat().sort((a, b) => a.requestedAt.localeCompare(b.requestedAt));
  }

  /** Runs the append script (`onlyIfPending`: only while the event's command is PENDING); the event's stream id, or null when not appended. */
  private async run(event: ActuatorEventRecord, onlyIfPending: boolean): Promise<string | null> {
    const { command, state } = event;
    const appendEvent = (this.redis as Redis & { appendActuatorEvent(...args: Array<string | number>): Promise<string | null> })
      .appendActuatorEvent;
    return appendEvent.call(
      this.redis,
      this.stream,
      `${this.prefix}:states`,
      this.trailKey(event.actuatorId, 'order'),
      this.trailKey(event.actuatorId, 'commands'),
      this.trailKey(event.actuatorId, 'counter'),
      this.trailKey(event.actuatorId, 'refusals'),
      this.pendingKey,
      JSON.stringify(event),
      this.eventLimit,
      event.actuatorId,
      state ? JSON.stringify(state) : '',
      command?.id ?? '',
      command ? JSON.stringify(command) : '',
      this.auditLimit,
      this.refusalLimit,
      command && isRefusal(command) ? '1' : '',
      command?.outcome ?? '',
      onlyIfPending ? '1' : '',
    );
  }

  async saveState(actuatorId: string, state: ActuatorStateRecord): Promise<void> {
    await this.redis.hset(`${this.prefix}:states`, actuatorId, JSON.stringify(state));
  }

  async states(actuatorIds: readonly string[]): Promise<Array<ActuatorStateRecord | undefined>> {
    if (!actuatorIds.length) return [];
    const values = await this.redis.hmget(`${this.prefix}:states`, ...actuatorIds);
    return values.map((value) => (value === null ? undefined : (this.parse(value) as ActuatorStateRecord | undefined)));
  }

  async audit(actuatorId: string, { last, before }: AuditPage): Promise<ActuatorCommandRecord[]> {
    if (last <= 0) return [];
    const parts = [this.trailKey(actuatorId, 'order'), this.trailKey(actuatorId, 'refusals')];
    let max = '+inf';
    if (before !== undefined) {
      const [sent, refused] = await Promise.all(parts.map((part) => this.redis.zscore(part, before)));
      const score = sent ?? refused;
      if (score === null || score === undefined) return [];
      max = `(${score}`;
    }
    // The newest `last` of each part, merged by rank: the page's newest `last` of both.
    const ranked = (
      await Promise.all(parts.map((part) => this.redis.zrevrangebyscore(part, max, '-inf', 'WITHSCORES', 'LIMIT', 0, last)))
    ).flatMap((reply) => pairs(reply));
    const ids = ranked
      .sort((a, b) => b.rank - a.rank)
      .slice(0, last)
      .map(({ id }) => id);
    if (!ids.length) return [];
    const values = await this.redis.hmget(this.trailKey(actuatorId, 'commands'), ...ids);
    return values.flatMap((value) => {
      const command = value === null ? undefined : (this.parse(value) as ActuatorCommandRecord | undefined);
      return command ? [command] : [];
    });
  }

  subscribe(listener: ActuatorLogListener): () => void {
    this.listeners.add(listener);
    if (this.listeners.size === 1 && !this.closed) this.startLoop();
    return () => {
      if (!this.listeners.delete(listener)) return;
      if (this.listeners.size === 0) this.generation++;
    };
  }

  async readRange(position: string, count: number): Promise<ActuatorLogEntry[]> {
    const entries = (await this.redis.xrange(this.stream, `(${position}`, '+', 'COUNT', count)) as StreamEntry[];
    return entries.flatMap((entry) => this.entryOf(entry) ?? []);
  }

  async oldestPosition(): Promise<string | undefined> {
    const [first] = (await this.redis.xrange(this.stream, '-', '+', 'COUNT', 1)) as StreamEntry[];
    return first?.[0];
  }

  /** Resolves once the listening loop knows where the stream ends: events appended after reach the listeners. */
  async listening(): Promise<void> {
    await this.started;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.generation++;
    this.listeners.clear();
    this.reader?.disconnect();
    await this.loop;
    if (this.redis.status === 'ready') await this.redis.quit().catch(() => undefined);
    this.redis.disconnect();
  }

  private startLoop(): void {
    const generation = ++this.generation;
    // Where the stream ends now, read on the writer: an event appended after subscribe() is heard.
    const start = this.redis.xrevrange(this.stream, '+', '-', 'COUNT', 1).then((entries) => (entries as StreamEntry[])[0]?.[0] ?? '0-0');
    this.started = start.catch(() => undefined);
    const previous = this.loop ?? Promise.resolve();
    this.loop = previous.then(() => this.read(generation, start));
  }

  private async read(generation: number, start: Promise<string>): Promise<void> {
    let lastId: string;
    try {
      lastId = await start;
    } catch (error) {
      this.logger.error({ stream: this.stream, err: error }, 'actuator log could not find where its stream ends; nobody hears events');
      return;
    }
    this.reader ??= this.connect(this.url, 'reader');
    let failures = 0;
    while (generation === this.generation) {
      let reply: unknown;
      try {
        reply = await this.reader.xread('COUNT', 100, 'BLOCK', this.blockMs, 'STREAMS', this.stream, lastId);
        failures = 0;
      } catch (error) {
        if (generation !== this.generation) return;
        this.logger.error({ stream: this.stream, err: error }, 'actuator log XREAD failed; retrying');
        await new Promise((resolve) => setTimeout(resolve, Math.min(100 * 2 ** failures++, 5_000)));
        continue;
      }
      for (const raw of streamEntries(reply)) {
        if (generation !== this.generation) return;
        lastId = raw[0];
        const entry = this.entryOf(raw);
        if (!entry) continue;
        for (const listener of this.listeners) {
          try {
            listener(entry);
          } catch (error) {
            this.logger.error({ stream: this.stream, position: entry.position, err: error }, 'actuator log listener threw');
          }
        }
      }
    }
  }

  private trailKey(actuatorId: string, part: 'order' | 'refusals' | 'commands' | 'counter'): string {
    return `${this.prefix}:audit:${actuatorId}:${part}`;
  }

  private entryOf([position, fields]: StreamEntry): ActuatorLogEntry | undefined {
    const index = fields.findIndex((field, i) => i % 2 === 0 && field === 'e');
    const event = index >= 0 ? this.parse(fields[index + 1]!) : undefined;
    if (!isEventRecord(event)) {
      this.logger.warn({ stream: this.stream, position }, 'actuator log skipped a malformed stream entry');
      return undefined;
    }
    return { position, event };
  }

  private parse(text: string): unknown {
    try {
      return JSON.parse(text) as unknown;
    } catch {
      return undefined;
    }
  }

  private connect(url: string, role: 'writer' | 'reader'): Redis {
    const redis = new Redis(url, {
      connectionName: `iot-actuator-log-${role}`,
      // Commands wait through reconnects instead of failing after a few retries.
      maxRetriesPerRequest: role === 'reader' ? null : 20,
      retryStrategy: (times) => Math.min(50 * times, 1_000),
    });
    redis.on('error', (error: Error) =>
      this.logger.debug({ stream: this.stream, role, err: error }, 'actuator log Redis connection error'),
    );
    return redis;
  }
}

/** A ZRANGE ... WITHSCORES reply as members with their ranks. */
function pairs(reply: string[]): Array<{ id: string; rank: number }> {
  const result: Array<{ id: string; rank: number }> = [];
  for (let i = 0; i + 1 < reply.length; i += 2) result.push({ id: reply[i]!, rank: Number(reply[i + 1]) });
  return result;
}

/** The entries of an XREAD reply of one stream. */
function streamEntries(reply: unknown): StreamEntry[] {
  if (!Array.isArray(reply)) return [];
  const [stream] = reply as Array<[string, StreamEntry[]]>;
  return stream?.[1] ?? [];
}
