import { appendFile, mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { Logger } from '#log';
import {
  isEventRecord,
  isLogPosition,
  MemoryActuatorLog,
  type ActuatorCommandRecord,
  type ActuatorEventRecord,
  type ActuatorLogEntry,
  type ActuatorLogOptions,
  type ActuatorStateRecord,
  type AuditPage,
  type MemorySnapshot,
} from './actuator-log.ts';

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
