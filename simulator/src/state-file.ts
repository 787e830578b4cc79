import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { Logger } from '#log';
import type { CloudSnapshot } from './cloud/state.ts';
import type { Scenario, ScenarioGateway } from './scenario.ts';

/**
 * What the simulated city keeps across restarts, as the real one keeps it on its own disks: the
 * meshes each simulated IQRF coordinator has bonded (a real coordinator keeps its bonds in its
 * own memory; the platform's registry only names nodes), and the data center's objects (Keystone
 * and Contrail projects, virtual networks, vRouters, Kubernetes nodes, namespaces and pods).
 * Gateways whose mesh is still the scenario's are not written: the scenario rebuilds them.
 */
export interface SimulatorSnapshot {
  version: 1;
  scenario: Scenario['name'];
  seed: number;
  /** ISO-8601. */
  savedAt: string;
  /** Gateways booted during a run, and scenario gateways whose mesh changed, with their meshes. */
  gateways: ScenarioGateway[];
  cloud: CloudSnapshot;
}

/**
 * The simulator's state file (`DATA_DIR/simulator-<scenario>.json` under `npm start`): read once
 * at start, written (atomically, by rename) a moment after every change and when the simulator
 * stops. A file of another scenario, seed or version is ignored with a warning.
 */
export class SimulatorStateFile {
  private timer: NodeJS.Timeout | undefined;
  private writing: Promise<void> = Promise.resolve();

  constructor(
    readonly path: string,
    private readonly logger: Logger,
    private readonly snapshot: () => SimulatorSnapshot,
    /** How long changes are gathered before one write. Default 200 ms. */
    private readonly delayMs = 200,
  ) {}

  /** The snapshot kept for this scenario and seed, if any. */
  static async read(path: string, scenario: Scenario, logger: Logger): Promise<SimulatorSnapshot | undefined> {
    let text: string;
    try {
      text = await readFile(path, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw error;
    }
    let snapshot: Partial<SimulatorSnapshot>;
    try {
      snapshot = JSON.parse(text) as Partial<SimulatorSnapshot>;
    } catch (error) {
      logger.warn({ path, err: (error as Error).message }, 'simulator state file is not JSON; starting the simulated city afresh');
      return undefined;
    }
    if (
      snapshot.version !== 1 ||
      snapshot.scenario !== scenario.name ||
      snapshot.seed !== scenario.seed ||
      !Array.isArray(snapshot.gateways) ||
      !snapshot.cloud
    ) {
      logger.warn(
        { path, scenario: snapshot.scenario, seed: snapshot.seed },
        'simulator state file is of another scenario, seed or version; starting the simulated city afresh',
      );
      return undefined;
    }
    return snapshot as SimulatorSnapshot;
  }

  /** Something changed: write soon. */
  changed(): void {
    this.timer ??= setTimeout(() => {
      this.timer = undefined;
      void this.write();
    }, this.delayMs);
  }

  /** Writes what is pending now (the simulator stops). */
  async flush(): Promise<void> {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = undefined;
      await this.write();
    }
    await this.writing;
  }

  private write(): Promise<void> {
    const text = JSON.stringify(this.snapshot());
    // Chained, and a failed write does not stop the next one from writing the whole state again.
    this.writing = this.writing
      .catch(() => undefined)
      .then(async () => {
        await mkdir(dirname(this.path), { recursive: true });
        const temporary = `${this.path}.${process.pid}.tmp`;
        await writeFile(temporary, text);
        await rename(temporary, this.path);
      })
      .catch((error: Error) => this.logger.warn({ path: this.path, err: error.message }, 'cannot write the simulator state file'));
    return this.writing;
  }
}
