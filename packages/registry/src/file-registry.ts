import { JsonFile } from './json-file.ts';
import { parseMeshSnapshot, type GatewayRecord, type GatewayRegistry, type MeshSnapshot } from './registry.ts';

/**
 * The embedded default registry: maps in memory, written through to JSON files after every
 * change and read back at start: the gateways to `path`, their last known meshes beside it
 * (`registry.json` -> `registry.mesh.json`). `path` undefined keeps both in memory only.
 */
export class FileGatewayRegistry implements GatewayRegistry {
  private readonly records = new Map<string, GatewayRecord>();
  private readonly meshes = new Map<string, MeshSnapshot>();

  private constructor(
    private readonly recordsFile: JsonFile<GatewayRecord[]> | undefined,
    private readonly meshesFile: JsonFile<Record<string, MeshSnapshot>> | undefined,
  ) {}

  static async open(path?: string): Promise<FileGatewayRegistry> {
    if (!path) return new FileGatewayRegistry(undefined, undefined);
    const registry = new FileGatewayRegistry(new JsonFile(path), new JsonFile(meshFileOf(path)));
    const records = await registry.recordsFile!.read([]);
    if (!Array.isArray(records)) throw new Error(`${path} does not hold a JSON array of gateways`);
    for (const record of records) registry.records.set(record.id, record);
    // Only a cache of what daemons said: one that cannot be read is started afresh, not fatal.
    const meshes: unknown = await registry.meshesFile!.read({}).catch(() => ({}));
    if (typeof meshes === 'object' && meshes !== null) {
      for (const [id, stored] of Object.entries(meshes)) {
        const snapshot = parseMeshSnapshot(stored);
        if (snapshot && registry.records.has(id)) registry.meshes.set(id, snapshot);
      }
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
    await this.persistRecords();
    return true;
  }

  async update(id: string, change: (record: GatewayRecord) => GatewayRecord): Promise<GatewayRecord | undefined> {
    const current = this.records.get(id);
    if (!current) return undefined;
    const next = change(current);
    this.records.set(id, next);
    await this.persistRecords();
    return next;
  }

  async remove(id: string): Promise<boolean> {
    const removed = this.records.delete(id);
    if (removed) await this.persistRecords();
    if (this.meshes.delete(id)) await this.persistMeshes();
    return removed;
  }

  async lastKnownMeshes(ids: readonly string[]): Promise<Array<MeshSnapshot | undefined>> {
    return ids.map((id) => this.meshes.get(id));
  }

  async saveMesh(gatewayId: string, snapshot: MeshSnapshot): Promise<void> {
    // A fetch that ends after a decommission, or after a newer one, keeps nothing.
    if (!this.records.has(gatewayId)) return;
    const kept = this.meshes.get(gatewayId);
    if (kept && kept.incarnation === snapshot.incarnation && kept.observedAt > snapshot.observedAt) return;
    this.meshes.set(gatewayId, snapshot);
    await this.persistMeshes();
  }

  async close(): Promise<void> {
    await Promise.all([this.recordsFile?.flushed(), this.meshesFile?.flushed()]);
  }

  private persistRecords(): Promise<void> {
    return this.recordsFile?.write(() => [...this.records.values()]) ?? Promise.resolve();
  }

  private persistMeshes(): Promise<void> {
    return this.meshesFile?.write(() => Object.fromEntries(this.meshes)) ?? Promise.resolve();
  }
}

/** Where the last known meshes of the registry at `path` are kept. */
export function meshFileOf(path: string): string {
  return path.endsWith('.json') ? `${path.slice(0, -'.json'.length)}.mesh.json` : `${path}.mesh.json`;
}
