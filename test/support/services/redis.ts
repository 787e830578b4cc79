import { rm } from 'node:fs/promises';
import { freePort, spawnServer, stopProcess, tempDir, waitForPort, type ServiceProcess } from './process.ts';

/** A `redis-server` started by a test, on a free loopback port, with its data in a temporary directory. */
export interface RedisService extends ServiceProcess {
  /** `redis://127.0.0.1:<port>` */
  url: string;
  port: number;
  /** Stops Redis (SIGTERM, or `signal`), runs `whileStopped` (if given) while nothing listens, and starts it again on the same port and data. */
  restart(options?: { whileStopped?: () => unknown; signal?: NodeJS.Signals }): Promise<void>;
}

export interface RedisServiceOptions {
  /** Persist every write to an append-only file, so that `restart()` keeps the data. Default false. */
  appendonly?: boolean;
}

/**
 * Runs `redis-server` in the foreground as a child process (no RDB snapshots; AOF when asked).
 * `restart()` stops it and starts it again on the same port and data directory; `stop()` also
 * removes the data directory.
 */
export async function startRedis(options: RedisServiceOptions = {}): Promise<RedisService> {
  const port = await freePort();
  const dir = await tempDir('redis');
  const args = [
    '--port',
    String(port),
    '--bind',
    '127.0.0.1',
    '--save',
    '',
    '--appendonly',
    options.appendonly ? 'yes' : 'no',
    '--dir',
    dir,
  ];

  const launch = async () => {
    const child = spawnServer('redis-server', args);
    const exited = new Promise<never>((_, reject) => {
      child.once('error', reject);
      child.once('exit', (code, signal) =>
        reject(new Error(`redis-server exited (${signal ?? code}) before listening:\n${child.output()}`)),
      );
    });
    exited.catch(() => {});
    await Promise.race([waitForPort(port), exited]);
    return child;
  };

  let child = await launch();
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    async restart({ whileStopped, signal } = {}) {
      await stopProcess(child, undefined, signal);
      await whileStopped?.();
      child = await launch();
    },
    async stop() {
      await stopProcess(child);
      await rm(dir, { recursive: true, force: true });
    },
  };
}
