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

export const AUDIT_LIMIT = 1_000;
export const REFUSAL_LIMIT = 100;
export const EVENT_LIMIT = 100_000;
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
export function isRefusal(command: ActuatorCommandRecord): boolean {
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
export interface MemorySnapshot {
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

export function isEventRecord(value: unknown): value is ActuatorEventRecord {
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
