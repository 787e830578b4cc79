import { chown, writeFile } from 'node:fs/promises';
import { userInfo } from 'node:os';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { freePort, spawnServer, stopProcess, tempDir, waitForPort, type ServiceProcess } from './process.ts';

export interface RunningMosquitto extends ServiceProcess {
  url: string;
  port: number;
}

const binary = ['/usr/sbin/mosquitto', '/usr/bin/mosquitto'].find((path) => {
  try {
    execFileSync(path, ['-h'], { stdio: 'ignore' });
    return true;
  } catch (error) {
    // `mosquitto -h` exits 3 after printing its help: it exists.
    return (error as { status?: number }).status === 3;
  }
});

/**
 * A real Mosquitto on a free loopback port, persisting sessions and retained messages in a
 * temporary folder (saved on every change, so a restart keeps them).
 */
export async function startMosquitto(): Promise<RunningMosquitto> {
  if (!binary) throw new Error('mosquitto is not installed (apt-get install mosquitto)');
  const port = await freePort();
  const dir = await tempDir('mosquitto');
  // As root, mosquitto drops to the user "mosquitto": its data folder must be writable by it.
  if (userInfo().uid === 0) {
    const uid = Number(execFileSync('id', ['-u', 'mosquitto']).toString());
    const gid = Number(execFileSync('id', ['-g', 'mosquitto']).toString());
    await chown(dir, uid, gid);
  }
  const config = join(dir, 'mosquitto.conf');
  await writeFile(
    config,
    [
      `listener ${port} 127.0.0.1`,
      'allow_anonymous true',
      'persistence true',
      `persistence_location ${dir}/`,
      'autosave_interval 1',
      'autosave_on_changes true',
      'max_queued_messages 100000',
      'log_dest stdout',
      '',
    ].join('\n'),
  );
  const run = async () => {
    const child = spawnServer(binary, ['-c', config]);
    await waitForPort(port).catch((error: Error) => {
      throw new Error(`${error.message}\n${child.output()}`);
    });
    return child;
  };
  let child = await run();
  return {
    url: `mqtt://127.0.0.1:${port}`,
    port,
    stop: () => stopProcess(child),
    async restart() {
      await stopProcess(child);
      child = await run();
    },
  };
}
