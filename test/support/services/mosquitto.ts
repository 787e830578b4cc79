import { chown, readFile, writeFile } from 'node:fs/promises';
import { userInfo } from 'node:os';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { DynsecAccounts, dynsecConfig, MAX_PACKET_BYTES, newPassword, type MqttAccount, type MqttCredentials } from '#broker';
import { silentLogger } from '#log';
import { freePort, spawnServer, stopProcess, tempDir, waitForPort, type ServiceProcess } from './process.ts';

export interface RunningMosquitto extends ServiceProcess {
  /** Stops it (SIGTERM, or `signal`), runs `whileStopped` (if given) while nothing listens, and starts it again on the same port and data. */
  restart(options?: { whileStopped?: () => unknown; signal?: NodeJS.Signals }): Promise<void>;
  url: string;
  port: number;
  /** The admin of the dynamic security plugin: it may only manage accounts. */
  admin: MqttCredentials;
  /** Its accounts, managed through the plugin by the admin (as the platform does). */
  accounts: DynsecAccounts;
  /** Makes (or gives a new password to) an account and returns what to connect with. */
  account(account: MqttAccount): Promise<MqttCredentials>;
  /** With `tls`: the TLS listener and the CA that signed its certificate. */
  tls?: { url: string; port: number; ca: Buffer };
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

const plugin = '/usr/lib/x86_64-linux-gnu/mosquitto_dynamic_security.so';

/**
 * A real Mosquitto on a free loopback port, locked as deploy/mosquitto.conf locks it: no anonymous
 * clients, accounts and ACLs by the dynamic security plugin (an admin made here), packets bounded.
 * Sessions and retained messages persist in a temporary folder (saved on every change, so a
 * restart keeps them; `saveOnEveryChange: false` saves every second, as deploy/mosquitto.conf does). With `tls`, a second listener speaks TLS with a certificate of a CA made here.
 */
export async function startMosquitto(options: { tls?: boolean; saveOnEveryChange?: boolean } = {}): Promise<RunningMosquitto> {
  if (!binary) throw new Error('mosquitto is not installed (apt-get install mosquitto)');
  const port = await freePort();
  const dir = await tempDir('mosquitto');
  const admin = { username: 'platform-admin', password: newPassword() };
  await writeFile(join(dir, 'dynamic-security.json'), dynsecConfig(admin, []));
  const tls = options.tls ? await makeCertificates(dir, await freePort()) : undefined;
  // As root, mosquitto drops to the user "mosquitto": its data folder must be writable by it.
  if (userInfo().uid === 0) {
    const uid = Number(execFileSync('id', ['-u', 'mosquitto']).toString());
    const gid = Number(execFileSync('id', ['-g', 'mosquitto']).toString());
    for (const file of ['', 'dynamic-security.json', ...(tls ? ['server.key', 'server.crt', 'ca.crt'] : [])])
      await chown(join(dir, file), uid, gid);
  }
  const config = join(dir, 'mosquitto.conf');
  await writeFile(
    config,
    [
      'per_listener_settings false',
      'allow_anonymous false',
      `plugin ${plugin}`,
      `plugin_opt_config_file ${dir}/dynamic-security.json`,
      `max_packet_size ${MAX_PACKET_BYTES}`,
      'set_tcp_nodelay true',
      `listener ${port} 127.0.0.1`,
      ...(tls ? [`listener ${tls.port} 127.0.0.1`, `cafile ${dir}/ca.crt`, `certfile ${dir}/server.crt`, `keyfile ${dir}/server.key`] : []),
      'persistence true',
      `persistence_location ${dir}/`,
      'autosave_interval 1',
      // Tests count every message across restarts: save the database on every change. That is a
      // write of the whole database per queued message (a flood stalls the broker); deploy/mosquitto.conf
      // saves every second instead, as benchmarks do.
      ...((options.saveOnEveryChange ?? true) ? ['autosave_on_changes true'] : []),
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
  let accounts: DynsecAccounts;
  try {
    accounts = await DynsecAccounts.connect(`mqtt://127.0.0.1:${port}`, admin, { protocolVersion: 5 }, silentLogger);
  } catch (error) {
    await stopProcess(child);
    throw new Error(`${(error as Error).message}\n${child.output()}`, { cause: error });
  }
  return {
    url: `mqtt://127.0.0.1:${port}`,
    port,
    admin,
    accounts,
    async account(account) {
      const password = newPassword();
      await accounts.upsert(account, password);
      return { username: account.username, password };
    },
    ...(tls ? { tls: { url: `mqtts://127.0.0.1:${tls.port}`, port: tls.port, ca: await readFile(join(dir, 'ca.crt')) } } : {}),
    async stop() {
      await accounts.close().catch(() => undefined);
      await stopProcess(child);
    },
    async restart({ whileStopped, signal } = {}) {
      await stopProcess(child, undefined, signal);
      await whileStopped?.();
      child = await run();
    },
  };
}

/** A CA and a server certificate for 127.0.0.1 signed by it (openssl), in `dir`. */
async function makeCertificates(dir: string, port: number): Promise<{ port: number }> {
  const openssl = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
  openssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=iot-test-ca', '-keyout', 'ca.key', '-out', 'ca.crt');
  openssl('req', '-newkey', 'rsa:2048', '-nodes', '-subj', '/CN=127.0.0.1', '-keyout', 'server.key', '-out', 'server.csr');
  await writeFile(join(dir, 'san.ext'), 'subjectAltName = IP:127.0.0.1\n');
  openssl(
    'x509',
    '-req',
    '-in',
    'server.csr',
    '-CA',
    'ca.crt',
    '-CAkey',
    'ca.key',
    '-CAcreateserial',
    '-days',
    '1',
    '-extfile',
    'san.ext',
    '-out',
    'server.crt',
  );
  return { port };
}
