import { Redis } from 'ioredis';
import type { Logger } from '#log';
import type { ActuatorKind } from './actuators.ts';

/** How a command ended (the public `ActuatorCommandOutcome`). */
export type ActuatorCommandOutcome = 'PENDING' | 'CONFIRMED' | 'UNCONFIRMED' | 'FAILED' | 'REFUSED';

/** Whether a state is the daemon's word (the public `ActuatorStateStatus`). */
export type ActuatorStateStatus = 'CONFIRMED' | 'UNCONFIRMED' | 'UNKNOWN';

/** An actuator's state: `on` for a binary output, `level` for a light. */
export interface ActuatorStateRecord {
  on?: boolean;
  level?: number;
  status: ActuatorStateStatus;
  /** ISO-8601: when the daemon reported it. */
  confirmedAt?: string;
}

/** One command to one actuator, as the audit trail keeps it (the latest word on it). */
export interface ActuatorCommandRecord {
  id: string;
  actuatorId: string;
  gatewayId: string;
  /** The actuator's tenant when it was commanded: whose audit trail it is in. */
  tenant: string;
  kind: ActuatorKind;
  /** A token's `sub`, or `apiKey:<id>`. */
  requestedBy: string;
  /** ISO-8601. */
  requestedAt: string;
  on?: boolean;
  level?: number;
  durationSeconds?: number;
  outcome: ActuatorCommandOutcome;
  /** The state before, from the daemon's answer (`prevVals`); only when CONFIRMED. */
  previous?: ActuatorStateRecord;
  /** ISO-8601. */
  finishedAt?: string;
  /** A public `UserErrorCode` when REFUSED or FAILED. */
  errorCode?: string;
  error?: string;
  groupId?: string;
}

export type ActuatorEventKind = 'COMMANDED' | 'CONFIRMED' | 'UNCONFIRMED' | 'FAILED' | 'REFUSED' | 'STATE_CHANGED';

/** One thing that happened to an actuator. */
export interface ActuatorEventRecord {
  kind: ActuatorEventKind;
  /** ISO-8601. */
  time: string;
  actuatorId: string;
  gatewayId: string;
  /** The actuator's tenant when it happened: only its callers (and grantees of the actuator) see it. */
  tenant: string;
  /** Absent for STATE_CHANGED. */
  command?: ActuatorCommandRecord;
  state?: ActuatorStateRecord;
}

/** An event with where it stands in the stream (an opaque, ordered position). */
export interface ActuatorLogEntry {
  position: string;
  event: ActuatorEventRecord;
}

/** Where an actuator's audit trail page starts: the `last` newest commands, older than `before` (a command id) when given. */
export interface AuditPage {
  last: number;
  before?: string;
}

/** Called with each event appended from now on, in order. */
export type ActuatorLogListener = (entry: ActuatorLogEntry) => void;

/**
 * What the platform remembers of its actuators: each actuator's audit trail (every command, its
 * latest word), its last known state, and the ordered stream of events that `actuatorEvents`
 * replays and follows. Implementations: in memory (the embedded default) and Redis (a stream for
 * the events, a sorted set and a hash per actuator for the trail, a hash for states), both bounded.
 */
export interface ActuatorLog {
  /**
   * Records an event, in one step: its command (when it has one) becomes the trail's word on that
   * command (added when new, replaced by id otherwise), its state (when it has one) the
   * actuator's, and the event is appended to the stream; listeners hear it. Resolves with its position.
   */
  append(event: ActuatorEventRecord): Promise<ActuatorLogEntry>;
  /** Keeps an actuator's state without an event (a read confirmed what was known, or found the first state). */
  saveState(actuatorId: string, state: ActuatorStateRecord): Promise<void>;
  /** The last state recorded of each actuator, in key order; undefined when none is. */
  states(actuatorIds: readonly string[]): Promise<Array<ActuatorStateRecord | undefined>>;
  /** An actuator's commands, newest first. */
  audit(actuatorId: string, page: AuditPage): Promise<ActuatorCommandRecord[]>;
  /** Calls `listener` with each event appended from now on (by any process sharing the log); returns the unsubscribe function. */
  subscribe(listener: ActuatorLogListener): () => void;
  /** Up to `count` kept events after `position` (exclusive), oldest first. */
  readRange(position: string, count: number): Promise<ActuatorLogEntry[]>;
  /** The oldest event still kept; undefined when none is. */
  oldestPosition(): Promise<string | undefined>;
  close(): Promise<void>;
}

export interface ActuatorLogOptions {
  /** Commands kept per actuator (older ones leave its trail). Default 1000. */
  auditLimit?: number;
  /** Events kept in the stream, about (replay reaches that far back). Default 100,000. */
  eventLimit?: number;
}

const AUDIT_LIMIT = 1_000;
const EVENT_LIMIT = 100_000;

/** Orders two positions (`<n>` or a Redis stream id `<ms>-<seq>`): negative when `a` comes first. */
export function compareLogPositions(a: string, b: string): number {
  const [aMain = 0n, aSeq = 0n] = a.split('-').map(BigInt);
  const [bMain = 0n, bSeq = 0n] = b.split('-').map(BigInt);
  if (aMain !== bMain) return aMain < bMain ? -1 : 1;
  return aSeq === bSeq ? 0 : aSeq < bSeq ? -1 : 1;
}

/** Whether `text` is a position of an actuator log (as a cursor decodes it). */
export function isLogPosition(text: string): boolean {
  return /^\d{1,20}(-\d{1,20})?$/.test(text);
}

/** The embedded default: this process's memory, bounded per actuator and in events. */
export class MemoryActuatorLog implements ActuatorLog {
  private readonly events: ActuatorLogEntry[] = [];
  private readonly trails = new Map<string, Map<string, ActuatorCommandRecord>>();
  private readonly stateOf = new Map<string, ActuatorStateRecord>();
  private readonly listeners = new Set<ActuatorLogListener>();
  private sequence = 0;
  private readonly auditLimit: number;
  private readonly eventLimit: number;

  constructor(options: ActuatorLogOptions = {}) {
    this.auditLimit = options.auditLimit ?? AUDIT_LIMIT;
    this.eventLimit = options.eventLimit ?? EVENT_LIMIT;
  }

  async append(event: ActuatorEventRecord): Promise<ActuatorLogEntry> {
    if (event.command) {
      // A Map keeps insertion order: a command's updates keep its place in the trail.
      let trail = this.trails.get(event.actuatorId);
      if (!trail) this.trails.set(event.actuatorId, (trail = new Map()));
      trail.set(event.command.id, event.command);
      for (const id of trail.keys()) {
        if (trail.size <= this.auditLimit) break;
        trail.delete(id);
      }
    }
    if (event.state) this.stateOf.set(event.actuatorId, event.state);
    const entry = { position: String(++this.sequence), event };
    this.events.push(entry);
    if (this.events.length > this.eventLimit) this.events.splice(0, this.events.length - this.eventLimit);
    for (const listener of this.listeners) {
      try {
        listener(entry);
      } catch {
        // A listener's failure is its own; the others still hear the event.
      }
    }
    return entry;
  }

  async saveState(actuatorId: string, state: ActuatorStateRecord): Promise<void> {
    this.stateOf.set(actuatorId, state);
  }

  async states(actuatorIds: readonly string[]): Promise<Array<ActuatorStateRecord | undefined>> {
    return actuatorIds.map((id) => this.stateOf.get(id));
  }

  async audit(actuatorId: string, { last, before }: AuditPage): Promise<ActuatorCommandRecord[]> {
    const newestFirst = [...(this.trails.get(actuatorId)?.values() ?? [])].reverse();
    const start = before === undefined ? 0 : newestFirst.findIndex((command) => command.id === before) + 1;
    if (before !== undefined && start === 0) return [];
    return newestFirst.slice(start, start + Math.max(0, last));
  }

  subscribe(listener: ActuatorLogListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  async readRange(position: string, count: number): Promise<ActuatorLogEntry[]> {
    const after = Number(position);
    const start = this.events.findIndex((entry) => Number(entry.position) > after);
    return start < 0 ? [] : this.events.slice(start, start + count);
  }

  async oldestPosition(): Promise<string | undefined> {
    return this.events[0]?.position;
  }

  async close(): Promise<void> {
    this.listeners.clear();
  }
}

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
 * Appends an event in one step. KEYS: events stream, states hash, trail sorted set, trail hash,
 * trail counter. ARGV: event JSON, event limit, actuator id, state JSON or '', command id or '',
 * command JSON, audit limit. A new command takes the trail's next number (its order); older ones
 * than the limit leave both the set and the hash. Returns the event's stream id.
 */
const APPEND_SCRIPT = `
if ARGV[5] ~= '' then
  if redis.call('HEXISTS', KEYS[4], ARGV[5]) == 0 then
    redis.call('ZADD', KEYS[3], redis.call('INCR', KEYS[5]), ARGV[5])
  end
  redis.call('HSET', KEYS[4], ARGV[5], ARGV[6])
  local excess = redis.call('ZCARD', KEYS[3]) - tonumber(ARGV[7])
  if excess > 0 then
    local dropped = redis.call('ZRANGE', KEYS[3], 0, excess - 1)
    redis.call('ZREMRANGEBYRANK', KEYS[3], 0, excess - 1)
    redis.call('HDEL', KEYS[4], unpack(dropped))
  end
end
if ARGV[4] ~= '' then redis.call('HSET', KEYS[2], ARGV[3], ARGV[4]) end
return redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[2], '*', 'e', ARGV[1])
`;

type StreamEntry = [id: string, fields: string[]];

/**
 * `ActuatorLog` in Redis, shared by every API instance: the events in one stream (`<prefix>:events`,
 * trimmed with MAXLEN ~), states in a hash, and per actuator its trail as a sorted set of command
 * ids by arrival with the commands in a hash. One connection writes and reads; a second one
 * blocks on XREAD to hear events, whoever appended them, while anyone listens.
 */
export class RedisActuatorLog implements ActuatorLog {
  private readonly redis: Redis;
  private reader: Redis | undefined;
  private readonly listeners = new Set<ActuatorLogListener>();
  private readonly prefix: string;
  private readonly stream: string;
  private readonly auditLimit: number;
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
    this.auditLimit = options.auditLimit ?? AUDIT_LIMIT;
    this.eventLimit = options.eventLimit ?? EVENT_LIMIT;
    this.blockMs = options.blockMs ?? 5_000;
    this.logger = options.logger;
    this.url = options.url;
    this.redis = this.connect(options.url, 'writer');
    this.redis.defineCommand('appendActuatorEvent', { numberOfKeys: 5, lua: APPEND_SCRIPT });
  }

  async append(event: ActuatorEventRecord): Promise<ActuatorLogEntry> {
    const { command, state } = event;
    const appendEvent = (this.redis as Redis & { appendActuatorEvent(...args: Array<string | number>): Promise<string> })
      .appendActuatorEvent;
    const position = await appendEvent.call(
      this.redis,
      this.stream,
      `${this.prefix}:states`,
      this.trailKey(event.actuatorId, 'order'),
      this.trailKey(event.actuatorId, 'commands'),
      this.trailKey(event.actuatorId, 'counter'),
      JSON.stringify(event),
      this.eventLimit,
      event.actuatorId,
      state ? JSON.stringify(state) : '',
      command?.id ?? '',
      command ? JSON.stringify(command) : '',
      this.auditLimit,
    );
    return { position, event };
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
    const order = this.trailKey(actuatorId, 'order');
    let max = '+inf';
    if (before !== undefined) {
      const score = await this.redis.zscore(order, before);
      if (score === null) return [];
      max = `(${score}`;
    }
    const ids = await this.redis.zrevrangebyscore(order, max, '-inf', 'LIMIT', 0, last);
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

  private trailKey(actuatorId: string, part: 'order' | 'commands' | 'counter'): string {
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

function isEventRecord(value: unknown): value is ActuatorEventRecord {
  if (typeof value !== 'object' || value === null) return false;
  const event = value as Partial<ActuatorEventRecord>;
  return (
    typeof event.kind === 'string' &&
    typeof event.actuatorId === 'string' &&
    typeof event.gatewayId === 'string' &&
    typeof event.tenant === 'string' &&
    typeof event.time === 'string'
  );
}

/** The entries of an XREAD reply of one stream. */
function streamEntries(reply: unknown): StreamEntry[] {
  if (!Array.isArray(reply)) return [];
  const [stream] = reply as Array<[string, StreamEntry[]]>;
  return stream?.[1] ?? [];
}
