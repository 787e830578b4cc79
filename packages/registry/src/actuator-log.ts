import { appendFile, mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
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
 * replays and follows. Implementations: in memory (the embedded default), in memory written
 * through to a JSON-lines file (the embedded default beside a registry file), and Redis (a stream
 * for the events, sorted sets and a hash per actuator for the trail, a hash for states), all bounded.
 */
export interface ActuatorLog {
  /**
   * Records an event, in one step: its command (when it has one) becomes the trail's word on that
   * command (added when new, replaced by id otherwise), its state (when it has one) the
   * actuator's, and the event is appended to the stream; listeners hear it. Resolves with its position.
   */
  append(event: ActuatorEventRecord): Promise<ActuatorLogEntry>;
  /**
   * Appends `event` (which ends a command) only while that command's latest word is still PENDING,
   * in one step: of several processes finishing the same interrupted command, one does. Resolves
   * with its position, or undefined when the command was already finished (or is not known).
   */
  appendIfPending(event: ActuatorEventRecord & { command: ActuatorCommandRecord }): Promise<ActuatorLogEntry | undefined>;
  /** The commands whose latest word is PENDING (sent, no answer recorded yet), oldest first. */
  pendingCommands(): Promise<ActuatorCommandRecord[]>;
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
  /** Commands sent kept per actuator (older ones leave its trail). Default 1000. */
  auditLimit?: number;
  /**
   * Refused commands kept per actuator, apart from those sent: a flood of refused attempts (over
   * the rate limit, without a grant) pushes out older refusals only, never a command that reached
   * the gateway. Default 100.
   */
  refusalLimit?: number;
  /** Events kept in the stream, about (replay reaches that far back). Default 100,000. */
  eventLimit?: number;
}

const AUDIT_LIMIT = 1_000;
const REFUSAL_LIMIT = 100;
const EVENT_LIMIT = 100_000;
/** The largest part of a Redis stream id (an unsigned 64-bit integer). */
const MAX_ID_PART = 2n ** 64n - 1n;

/** Orders two positions (`<n>` or a Redis stream id `<ms>-<seq>`): negative when `a` comes first. */
export function compareLogPositions(a: string, b: string): number {
  const [aMain = 0n, aSeq = 0n] = a.split('-').map(BigInt);
  const [bMain = 0n, bSeq = 0n] = b.split('-').map(BigInt);
  if (aMain !== bMain) return aMain < bMain ? -1 : 1;
  return aSeq === bSeq ? 0 : aSeq < bSeq ? -1 : 1;
}

/**
 * Whether `text` is a position of an actuator log (as a cursor decodes it): a counter or a Redis
 * stream id, each part at most 2^64 - 1 (a larger one is no position, and Redis refuses it).
 */
export function isLogPosition(text: string): boolean {
  return /^\d{1,20}(-\d{1,20})?$/.test(text) && text.split('-').every((part) => BigInt(part) <= MAX_ID_PART);
}

/** Whether a command first recorded with this outcome is a refusal, kept apart in its trail. */
function isRefusal(command: ActuatorCommandRecord): boolean {
  return command.outcome === 'REFUSED';
}

/** A command in its trail with its rank there (arrival order, shared by sent and refused ones). */
type Ranked = [rank: number, command: ActuatorCommandRecord];

/** One actuator's trail: commands sent and refusals, each bounded apart, by id in arrival order. */
interface Trail {
  next: number;
  sent: Map<string, Ranked>;
  refused: Map<string, Ranked>;
}

/** What the memory log holds, as `FileActuatorLog` writes it whole. */
interface MemorySnapshot {
  sequence: number;
  events: ActuatorLogEntry[];
  trails: Array<[actuatorId: string, next: number, sent: Ranked[], refused: Ranked[]]>;
  states: Array<[actuatorId: string, state: ActuatorStateRecord]>;
}

/** The embedded default without a registry file: this process's memory, bounded per actuator and in events. */
export class MemoryActuatorLog implements ActuatorLog {
  private events: ActuatorLogEntry[] = [];
  private readonly trails = new Map<string, Trail>();
  private readonly stateOf = new Map<string, ActuatorStateRecord>();
  private readonly listeners = new Set<ActuatorLogListener>();
  private sequence = 0;
  private readonly auditLimit: number;
  private readonly refusalLimit: number;
  private readonly eventLimit: number;

  constructor(options: ActuatorLogOptions = {}) {
    this.auditLimit = options.auditLimit ?? AUDIT_LIMIT;
    this.refusalLimit = options.refusalLimit ?? REFUSAL_LIMIT;
    this.eventLimit = options.eventLimit ?? EVENT_LIMIT;
  }

  async append(event: ActuatorEventRecord): Promise<ActuatorLogEntry> {
    const entry = this.record({ position: String(this.sequence + 1), event });
    for (const listener of this.listeners) {
      try {
        listener(entry);
      } catch {
        // A listener's failure is its own; the others still hear the event.
      }
    }
    return entry;
  }

  async appendIfPending(event: ActuatorEventRecord & { command: ActuatorCommandRecord }): Promise<ActuatorLogEntry | undefined> {
    return this.isPending(event.actuatorId, event.command.id) ? this.append(event) : undefined;
  }

  async pendingCommands(): Promise<ActuatorCommandRecord[]> {
    return [...this.trails.values()]
      .flatMap((trail) => [...trail.sent.values()].filter(([, command]) => command.outcome === 'PENDING'))
      .sort(([, a], [, b]) => a.requestedAt.localeCompare(b.requestedAt))
      .map(([, command]) => command);
  }

  async saveState(actuatorId: string, state: ActuatorStateRecord): Promise<void> {
    this.stateOf.set(actuatorId, state);
  }

  async states(actuatorIds: readonly string[]): Promise<Array<ActuatorStateRecord | undefined>> {
    return actuatorIds.map((id) => this.stateOf.get(id));
  }

  async audit(actuatorId: string, { last, before }: AuditPage): Promise<ActuatorCommandRecord[]> {
    const trail = this.trails.get(actuatorId);
    if (!trail || last <= 0) return [];
    const newestFirst = [...trail.sent.values(), ...trail.refused.values()].sort(([a], [b]) => b - a);
    const start = before === undefined ? 0 : newestFirst.findIndex(([, command]) => command.id === before) + 1;
    if (before !== undefined && start === 0) return [];
    return newestFirst.slice(start, start + last).map(([, command]) => command);
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

  /**
   * Takes an event in at its position without telling listeners (an append, or one read back
   * from a file): its command becomes its trail's word on it, its state the actuator's.
   */
  protected record(entry: ActuatorLogEntry): ActuatorLogEntry {
    const { event } = entry;
    if (event.command) this.keep(event.actuatorId, event.command);
    if (event.state) this.stateOf.set(event.actuatorId, event.state);
    this.sequence = Math.max(this.sequence, Number(entry.position));
    this.events.push(entry);
    if (this.events.length > this.eventLimit) this.events.splice(0, this.events.length - this.eventLimit);
    return entry;
  }

  /** Whether the trail's latest word on this command is PENDING (checked and appended in one turn of the event loop). */
  protected isPending(actuatorId: string, commandId: string): boolean {
    return this.trails.get(actuatorId)?.sent.get(commandId)?.[1].outcome === 'PENDING';
  }

  /** The position of the last event taken in (0 before any). */
  protected lastPosition(): number {
    return this.sequence;
  }

  /** All it holds, as plain data. */
  protected snapshot(): MemorySnapshot {
    return {
      sequence: this.sequence,
      events: this.events,
      trails: [...this.trails].map(([id, trail]) => [id, trail.next, [...trail.sent.values()], [...trail.refused.values()]]),
      states: [...this.stateOf],
    };
  }

  /** Replaces what it holds with a snapshot (read back from a file). */
  protected restore(snapshot: MemorySnapshot): void {
    this.sequence = snapshot.sequence;
    this.events = snapshot.events.slice(-this.eventLimit);
    this.trails.clear();
    for (const [id, next, sent, refused] of snapshot.trails)
      this.trails.set(id, {
        next,
        sent: new Map(sent.slice(-this.auditLimit).map((ranked) => [ranked[1].id, ranked])),
        refused: new Map(refused.slice(-this.refusalLimit).map((ranked) => [ranked[1].id, ranked])),
      });
    this.stateOf.clear();
    for (const [id, state] of snapshot.states) this.stateOf.set(id, state);
  }

  /** A command's latest word in its trail: a new one takes the next rank in its part (sent or refused), an update keeps its place. */
  private keep(actuatorId: string, command: ActuatorCommandRecord): void {
    let trail = this.trails.get(actuatorId);
    if (!trail) this.trails.set(actuatorId, (trail = { next: 1, sent: new Map(), refused: new Map() }));
    const known = trail.sent.get(command.id) ?? trail.refused.get(command.id);
    if (known) {
      known[1] = command;
      return;
    }
    const [part, limit] = isRefusal(command) ? [trail.refused, this.refusalLimit] : [trail.sent, this.auditLimit];
    part.set(command.id, [trail.next++, command]);
    // A Map keeps insertion order: its first keys are the oldest.
    for (const id of part.keys()) {
      if (part.size <= limit) break;
      part.delete(id);
    }
  }
}

/** Where the actuator log of the registry at `path` is kept (`registry-demo.json` -> `registry-demo.actuators.jsonl`). */
export function actuatorLogFileOf(path: string): string {
  return path.endsWith('.json') ? `${path.slice(0, -'.json'.length)}.actuators.jsonl` : `${path}.actuators.jsonl`;
}

/** One line of the log file: an event appended, a state kept without an event, or the whole log (written when the file is compacted). */
type FileLine =
  | { t: 'event'; p: string; e: ActuatorEventRecord }
  | { t: 'state'; a: string; s: ActuatorStateRecord }
  | { t: 'snapshot'; s: MemorySnapshot };

export interface FileActuatorLogOptions extends ActuatorLogOptions {
  /** The JSON-lines file (`actuatorLogFileOf` the registry file). */
  path: string;
  logger: Logger;
  /** The least number of lines appended before the file is compacted. Default 10,000. */
  compactAfterLines?: number;
}

/**
 * The embedded default beside a registry file: the memory log, each change also appended to a
 * JSON-lines file and read back at start, so that a restart keeps the audit trails, the states
 * and the event stream (cursors given before a restart resume after it). The file stays bounded:
 * once as many lines were appended as the log held at its last compaction (`compactAfterLines`
 * at least), it
 * is replaced whole (a temporary file, then a rename) by one line of what the log holds. A line
 * cut short by a crash is skipped when read back. An append resolves once its line is written; a
 * failed write (a full disk, a read-only folder) is logged once and the log goes on in memory (a command
 * is never failed for it); the first write that works again rewrites the file whole, so nothing is missing.
 * A file that cannot be read (other than missing) fails every call, and is never overwritten.
 */
export class FileActuatorLog extends MemoryActuatorLog {
  private readonly path: string;
  private readonly logger: Logger;
  private readonly ready: Promise<void>;
  /** Lines to append with the next write, and that write. */
  private batch: { lines: string[]; written: Promise<void> } | undefined;
  private writing: Promise<void> = Promise.resolve();
  /** Lines in the file beside its first (a snapshot, when compacted). */
  private linesAppended = 0;
  private readonly minCompactAfter: number;
  private compactAfter: number;
  /** Writes fail now (said once in the operator's log), and how many lines they missed meanwhile. */
  private failing = false;
  private linesMissed = 0;
  /** The file ends with a line cut short: the next write starts a line of its own. */
  private torn = false;

  constructor(options: FileActuatorLogOptions) {
    super(options);
    this.path = options.path;
    this.logger = options.logger;
    this.minCompactAfter = options.compactAfterLines ?? 10_000;
    this.compactAfter = this.minCompactAfter;
    this.ready = this.load();
    this.ready.catch((error: unknown) =>
      this.logger.error({ path: this.path, err: error }, 'actuator log file cannot be read; actuator commands fail until it can'),
    );
  }

  /** Resolves once the file was read back (rejects when it cannot be). */
  opened(): Promise<void> {
    return this.ready;
  }

  override async append(event: ActuatorEventRecord): Promise<ActuatorLogEntry> {
    await this.ready;
    const entry = await super.append(event);
    await this.write({ t: 'event', p: entry.position, e: event });
    return entry;
  }

  override async appendIfPending(event: ActuatorEventRecord & { command: ActuatorCommandRecord }): Promise<ActuatorLogEntry | undefined> {
    await this.ready;
    return this.isPending(event.actuatorId, event.command.id) ? this.append(event) : undefined;
  }

  override async pendingCommands(): Promise<ActuatorCommandRecord[]> {
    await this.ready;
    return super.pendingCommands();
  }

  override async saveState(actuatorId: string, state: ActuatorStateRecord): Promise<void> {
    await this.ready;
    await super.saveState(actuatorId, state);
    await this.write({ t: 'state', a: actuatorId, s: state });
  }

  override async states(actuatorIds: readonly string[]): Promise<Array<ActuatorStateRecord | undefined>> {
    await this.ready;
    return super.states(actuatorIds);
  }

  override async audit(actuatorId: string, page: AuditPage): Promise<ActuatorCommandRecord[]> {
    await this.ready;
    return super.audit(actuatorId, page);
  }

  override async readRange(position: string, count: number): Promise<ActuatorLogEntry[]> {
    await this.ready;
    return super.readRange(position, count);
  }

  override async oldestPosition(): Promise<string | undefined> {
    await this.ready;
    return super.oldestPosition();
  }

  override async close(): Promise<void> {
    await super.close();
    await this.writing;
  }

  private async load(): Promise<void> {
    const text = await readFile(this.path, 'utf8').catch((error: NodeJS.ErrnoException) => {
      if (error.code === 'ENOENT') return '';
      throw error;
    });
    let skipped = 0;
    this.torn = text.length > 0 && !text.endsWith('\n');
    for (const raw of text.split('\n')) {
      if (!raw) continue;
      this.linesAppended++;
      const line = parseLine(raw);
      if (!line) skipped++;
      else if (line.t === 'snapshot') this.restore(line.s);
      else if (line.t === 'state') await super.saveState(line.a, line.s);
      // An event already taken in (written again after a compaction that held it) is skipped.
      else if (Number(line.p) > this.lastPosition()) this.record({ position: line.p, event: line.e });
    }
    this.compactAfter = Math.max(this.minCompactAfter, this.snapshot().events.length);
    if (skipped)
      this.logger.warn({ path: this.path, skipped }, 'actuator log file: skipped lines that are not log entries (cut short by a crash?)');
  }

  /** Appends a line with the next write (lines asked meanwhile go together); resolves once it is written or its failure logged. */
  private write(line: FileLine): Promise<void> {
    if (!this.batch) {
      const batch = { lines: [] as string[], written: Promise.resolve() };
      batch.written = this.writing.then(() => {
        this.batch = undefined;
        return this.flush(batch.lines);
      });
      this.writing = batch.written;
      this.batch = batch;
    }
    this.batch.lines.push(JSON.stringify(line));
    return this.batch.written;
  }

  private async flush(lines: readonly string[]): Promise<void> {
    try {
      await mkdir(dirname(this.path), { recursive: true });
      await appendFile(this.path, `${this.torn ? '\n' : ''}${lines.join('\n')}\n`);
      this.torn = false;
      this.linesAppended += lines.length;
      // Once writes work again, the file is rewritten whole from memory: the lines it missed are back in it.
      if (this.failing || this.linesAppended >= this.compactAfter) await this.compact();
      if (this.failing) {
        this.failing = false;
        this.logger.warn({ path: this.path, linesMissed: this.linesMissed }, 'actuator log file is written again, whole');
        this.linesMissed = 0;
      }
    } catch (error) {
      // Said once when writes start failing (a full disk fails every command's write), not per write.
      if (this.failing) this.linesMissed += lines.length;
      else {
        this.failing = true;
        this.linesMissed = lines.length;
        this.logger.error(
          { path: this.path, err: error },
          'actuator log file cannot be written (full disk? a directory or read-only?); commands go on and the log is kept in memory only until it can',
        );
      }
    }
  }

  /** Replaces the file by one line of what the log holds now (lines written after it may repeat some: reading back skips them). */
  private async compact(): Promise<void> {
    const temporary = `${this.path}.${process.pid}.tmp`;
    const snapshot = this.snapshot();
    try {
      await writeFile(temporary, `${JSON.stringify({ t: 'snapshot', s: snapshot } satisfies FileLine)}\n`);
      await rename(temporary, this.path);
    } catch (error) {
      await rm(temporary, { force: true }).catch(() => undefined);
      throw error;
    }
    this.linesAppended = 0;
    this.compactAfter = Math.max(this.minCompactAfter, snapshot.events.length);
  }
}

function parseLine(raw: string): FileLine | undefined {
  let value: unknown;
  try {
    value = JSON.parse(raw);
  } catch {
    return undefined;
  }
  if (typeof value !== 'object' || value === null) return undefined;
  const line = value as Partial<Record<'t' | 'p' | 'a', unknown>> & { e?: unknown; s?: unknown };
  if (line.t === 'event' && typeof line.p === 'string' && isLogPosition(line.p) && isEventRecord(line.e))
    return { t: 'event', p: line.p, e: line.e };
  if (line.t === 'state' && typeof line.a === 'string' && typeof line.s === 'object' && line.s !== null)
    return { t: 'state', a: line.a, s: line.s as ActuatorStateRecord };
  if (line.t === 'snapshot' && isSnapshot(line.s)) return { t: 'snapshot', s: line.s };
  return undefined;
}

function isSnapshot(value: unknown): value is MemorySnapshot {
  if (typeof value !== 'object' || value === null) return false;
  const snapshot = value as Partial<MemorySnapshot>;
  return (
    typeof snapshot.sequence === 'number' &&
    Array.isArray(snapshot.events) &&
    snapshot.events.every((entry) => typeof entry?.position === 'string' && isEventRecord(entry.event)) &&
    Array.isArray(snapshot.trails) &&
    Array.isArray(snapshot.states)
  );
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
