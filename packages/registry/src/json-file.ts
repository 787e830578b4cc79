import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';

/**
 * A JSON file that is replaced whole and atomically (a temporary file, then a rename). Writes
 * asked while one runs are coalesced: the next write takes the state when it starts, so a burst
 * of changes costs two writes, not one per change, and a failed write poisons nothing.
 */
export class JsonFile<T> {
  private writing: Promise<void> = Promise.resolve();
  private queued: Promise<void> | undefined;
  private latest: (() => T) | undefined;

  constructor(readonly path: string) {}

  /** The file's value, or `fallback` when there is no file yet. */
  async read(fallback: T): Promise<T> {
    const text = await readFile(this.path, 'utf8').catch((error: NodeJS.ErrnoException) => {
      if (error.code === 'ENOENT') return undefined;
      throw error;
    });
    return text === undefined ? fallback : (JSON.parse(text) as T);
  }

  /** Writes `state()` as it is when the write starts; resolves once that write is on disk. */
  write(state: () => T): Promise<void> {
    this.latest = state;
    if (!this.queued) {
      const queued = this.writing
        .catch(() => undefined)
        .then(() => {
          this.queued = undefined;
          return this.replace(JSON.stringify(this.latest!(), null, 1));
        });
      this.queued = queued;
      this.writing = queued;
    }
    return this.queued;
  }

  /** Resolves once every write asked so far is done (failed or not). */
  flushed(): Promise<void> {
    return this.writing.catch(() => undefined);
  }

  private async replace(text: string): Promise<void> {
    await mkdir(dirname(this.path), { recursive: true });
    const temporary = `${this.path}.${process.pid}.tmp`;
    await writeFile(temporary, text);
    await rename(temporary, this.path);
  }
}
