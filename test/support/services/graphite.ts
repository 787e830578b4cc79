import { spawn } from 'node:child_process';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { freePort, spawnServer, stopProcess, tempDir, waitForPort } from './process.ts';

/** A real carbon-cache + graphite-web pair started by a test, with its data in a temp dir. */
export interface GraphiteService {
  /** graphite-web base URL (render API), e.g. `http://127.0.0.1:41234`. */
  graphiteUrl: string;
  /** carbon's plaintext line receiver, e.g. `tcp://127.0.0.1:41235`. */
  carbonUrl: string;
  /** Resolution and retention of every metric, as written into `storage-schemas.conf`. */
  resolutionSeconds: number;
  retentionSeconds: number;
  /** Stops both processes and deletes the data. */
  stop(): Promise<void>;
  /**
   * Stops carbon (SIGTERM) and starts it again on the same ports and data. carbon-cache 1.1 does not
   * drain its cache on the way out: points it took in its last second or so are lost unless resent.
   */
  restart(): Promise<void>;
  /** Carbon alone, for tests that need it down for a while (SIGTERM, or `signal`). */
  stopCarbon(signal?: NodeJS.Signals): Promise<void>;
  startCarbon(): Promise<void>;
  /** Carbon stalls (SIGSTOP): its sockets accept and hold, nothing is read; `resumeCarbon` (SIGCONT) wakes it. */
  pauseCarbon(): void;
  resumeCarbon(): void;
  /** The recent output of both processes, for failure messages. */
  output(): string;
}

/** Debian's packages (graphite-carbon, graphite-web) run with this interpreter, not the first python3 on PATH. */
const PYTHON = '/usr/bin/python3';
/** Slot size and retention of the first archive of every metric (`1s:6h,1m:7d`). */
export const GRAPHITE_RESOLUTION_SECONDS = 1;
export const GRAPHITE_RETENTION_SECONDS = 6 * 3600;

/**
 * Starts carbon-cache and graphite-web (Django's `runserver`) on free loopback ports, with their own
 * configuration and storage in a temp dir, and resolves once a render request is answered.
 * Every metric gets `1s:6h,1m:7d`: one-second slots make tests fast, and any query within the last
 * six hours reads the one-second archive, so answers are exact rather than rolled up.
 */
export async function startGraphite(): Promise<GraphiteService> {
  const root = await tempDir('graphite');
  const [linePort, picklePort, queryPort, webPort] = (await distinctFreePorts(4)) as [number, number, number, number];
  const storage = join(root, 'storage');
  const whisper = join(storage, 'whisper');
  const conf = join(root, 'conf');
  const webapp = join(root, 'webapp');
  await Promise.all(
    [whisper, join(storage, 'log', 'webapp'), join(storage, 'log', 'carbon'), conf, webapp].map((dir) => mkdir(dir, { recursive: true })),
  );

  await writeFile(
    join(conf, 'carbon.conf'),
    `[cache]
STORAGE_DIR = ${storage}/
LOCAL_DATA_DIR = ${whisper}/
CONF_DIR = ${conf}/
LOG_DIR = ${storage}/log/carbon/
PID_DIR = ${storage}/
USER =
ENABLE_LOGROTATION = False
MAX_CACHE_SIZE = inf
MAX_UPDATES_PER_SECOND = inf
MAX_UPDATES_PER_SECOND_ON_SHUTDOWN = inf
MAX_CREATES_PER_MINUTE = inf
MIN_TIMESTAMP_RESOLUTION = 1
LINE_RECEIVER_INTERFACE = 127.0.0.1
LINE_RECEIVER_PORT = ${linePort}
ENABLE_UDP_LISTENER = False
PICKLE_RECEIVER_INTERFACE = 127.0.0.1
PICKLE_RECEIVER_PORT = ${picklePort}
CACHE_QUERY_INTERFACE = 127.0.0.1
CACHE_QUERY_PORT = ${queryPort}
USE_FLOW_CONTROL = True
ENABLE_TAGS = False
LOG_UPDATES = False
LOG_CREATES = False
LOG_CACHE_HITS = False
WHISPER_AUTOFLUSH = False
`,
  );
  await writeFile(
    join(conf, 'storage-schemas.conf'),
    `[everything]\npattern = .*\nretentions = ${GRAPHITE_RESOLUTION_SECONDS}s:${GRAPHITE_RETENTION_SECONDS}s,1m:7d\n`,
  );
  // xFilesFactor 0: a rolled-up or summarized slot with one known point keeps its value.
  await writeFile(join(conf, 'storage-aggregation.conf'), `[everything]\npattern = .*\nxFilesFactor = 0\naggregationMethod = average\n`);

  const settingsModule = 'iot_graphite_test_settings';
  await writeFile(
    join(webapp, `${settingsModule}.py`),
    `SECRET_KEY = 'iot-platform-tests'
TIME_ZONE = 'UTC'
STORAGE_DIR = ${JSON.stringify(storage)}
WHISPER_DIR = ${JSON.stringify(whisper)}
LOG_DIR = ${JSON.stringify(join(storage, 'log', 'webapp'))}
INDEX_FILE = ${JSON.stringify(join(storage, 'index'))}
CARBONLINK_HOSTS = ['127.0.0.1:${queryPort}']
# After carbon restarts, ask it again within a second instead of the default 15 s.
CARBONLINK_RETRY_DELAY = 1
DEFAULT_XFILES_FACTOR = 0
# No render or find caching: tests poll until fresh points show up.
CACHES = {'default': {'BACKEND': 'django.core.cache.backends.dummy.DummyCache'}}
DEFAULT_CACHE_DURATION = 0
FIND_CACHE_DURATION = 0
LOG_RENDERING_PERFORMANCE = False
LOG_CACHE_PERFORMANCE = False
DATABASES = {'default': {'NAME': ${JSON.stringify(join(storage, 'graphite.db'))}, 'ENGINE': 'django.db.backends.sqlite3'}}
`,
  );
  const webEnv = {
    PYTHONPATH: webapp,
    PYTHONHOME: undefined,
    GRAPHITE_SETTINGS_MODULE: settingsModule,
    DJANGO_SETTINGS_MODULE: 'graphite.settings',
  };
  await run(PYTHON, ['/usr/bin/graphite-manage', 'migrate', '--run-syncdb'], webEnv);

  const carbonArgs = ['/usr/bin/carbon-cache', `--config=${join(conf, 'carbon.conf')}`, '--nodaemon', 'start'];
  let carbon = spawnServer(PYTHON, carbonArgs, { env: { PYTHONHOME: undefined } });
  const web = spawnServer(PYTHON, ['/usr/bin/graphite-manage', 'runserver', '--noreload', `127.0.0.1:${webPort}`], { env: webEnv });
  const output = () => `--- carbon-cache\n${carbon.output()}\n--- graphite-web\n${web.output()}`;

  const startCarbon = async () => {
    if (carbon.exitCode !== null || carbon.signalCode !== null)
      carbon = spawnServer(PYTHON, carbonArgs, { env: { PYTHONHOME: undefined } });
    await Promise.all([waitForPort(linePort), waitForPort(queryPort)]).catch((error: unknown) => {
      throw new Error(`carbon-cache did not start: ${String(error)}\n${output()}`);
    });
  };
  const stopCarbon = (signal?: NodeJS.Signals) => stopProcess(carbon, 10_000, signal);
  const stop = async () => {
    await Promise.all([stopProcess(carbon), stopProcess(web)]);
    await rm(root, { recursive: true, force: true });
  };

  const graphiteUrl = `http://127.0.0.1:${webPort}`;
  try {
    await startCarbon();
    await waitForRender(graphiteUrl, output);
  } catch (error) {
    await stop();
    throw error;
  }

  return {
    graphiteUrl,
    carbonUrl: `tcp://127.0.0.1:${linePort}`,
    resolutionSeconds: GRAPHITE_RESOLUTION_SECONDS,
    retentionSeconds: GRAPHITE_RETENTION_SECONDS,
    stop,
    restart: async () => {
      await stopCarbon();
      await startCarbon();
    },
    stopCarbon,
    startCarbon,
    pauseCarbon: () => void carbon.kill('SIGSTOP'),
    resumeCarbon: () => void carbon.kill('SIGCONT'),
    output,
  };
}

/** `freePort` twice in a row may hand out the same port; ask until the ports differ. */
async function distinctFreePorts(count: number): Promise<number[]> {
  const ports = new Set<number>();
  while (ports.size < count) ports.add(await freePort());
  return [...ports];
}

async function waitForRender(graphiteUrl: string, output: () => string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  while (Date.now() < deadline) {
    try {
      const response = await fetch(`${graphiteUrl}/render?format=json&target=iot.nothing&from=-1min`, {
        signal: AbortSignal.timeout(2_000),
      });
      if (response.ok) return;
      last = `HTTP ${response.status}: ${(await response.text()).slice(0, 500)}`;
    } catch (error) {
      last = String(error);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`graphite-web did not answer /render within ${timeoutMs} ms (${last})\n${output()}`);
}

function run(command: string, args: string[], env: Record<string, string | undefined>): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.once('error', reject);
    child.once('exit', (code) =>
      code === 0 ? resolve() : reject(new Error(`${args.join(' ')} exited with ${code}:\n${output.slice(-4000)}`)),
    );
  });
}
