import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { GatewayRecord, GatewayRegistry } from './registry.ts';

/**
 * The embedded default registry: a map in memory, written through to one JSON file (atomically,
 * by rename) after every change, and read back at start. `path` undefined keeps it in memory only.
 */
export class FileGatewayRegistry implements GatewayRegistry {
  private readonly records = new Map<string, GatewayRecord>();
  private writing: Promise<void> = Promise.resolve();

  private constructor(private readonly path: string | undefined) {}

  static async open(path?: string): Promise<FileGatewayRegistry> {
    const registry = new FileGatewayRegistry(path);
    if (path) {
      const text = await readFile(path, 'utf8').catch((error: NodeJS.ErrnoException) => {
        if (error.code === 'ENOENT') return '[]';
        throw error;
      });
      const records: unknown = JSON.parse(text);
      if (!Array.isArray(records)) throw new Error(`${path} does not hold a JSON array of gateways`);
      for (const record of records as GatewayRecord[]) registry.records.set(record.id, record);
    }
    return registry;
  }

  async list(): Promise<GatewayRecord[]> {
    return [...this.records.values()];
  }

  async getMany(ids: readonly string[]): Promise<Array<GatewayRecord | undefined>> {
    return ids.map((id) => this.records.get(id));
  }

  async add(record: GatewayRecord): Promise<boolean> {
    if (this.records.has(record.id)) return false;
    this.records.set(record.id, record);
    await this.persist();
    return true;
  }

  async update(id: string, change: (record: GatewayRecord) => GatewayRecord): Promise<GatewayRecord | undefined> {
    const current = this.records.get(id);
    if (!current) return undefined;
    const next = change(current);
    this.records.set(id, next);
    await this.persist();
    return next;
  }

  async remove(id: string): Promise<boolean> {
    const removed = this.records.delete(id);
    if (removed) await this.persist();
    return removed;
  }

  async close(): Promise<void> {
    await this.writing;
  }

  // Writes are chained so that two changes never interleave their file writes.
  private persist(): Promise<void> {
    const path = this.path;
    if (!path) return Promise.resolve();
    const snapshot = JSON.stringify([...this.records.values()], null, 1);
    // A failed write must not poison the chain: the next change writes the whole state again.
    this.writing = this.writing.catch(() => undefined).then(async () => {
      await mkdir(dirname(path), { recursive: true });
      const temporary = `${path}.${process.pid}.tmp`;
      await writeFile(temporary, snapshot);
      await rename(temporary, path);
    });
    return this.writing;
  }
}
