/**
 * The device plane under attack (a benchmark, not a test): the platform collects the city while
 * hostile MQTT clients try everything an outsider on the same network would, and we count what
 * reached the readings and what the honest gateways lost, against a phase without attackers
 * measured in the same run.
 *
 *   npx tsx bench/mqtt-hostile.ts [--scenario demo|pisek] [--seconds 20] [--poll-ms 1000]
 *                                 [--attackers 10] [--broker embedded|mosquitto] [--rate 0]
 *
 * The attackers run in a process of their own (bench/lib/mqtt-attackers.ts), as on another
 * host. Each loops over: anonymous connections; a gateway's username with a guessed
 * password; with an account of its own (a gateway `hostile-<n>`, as a stolen gateway would
 * have): subscribing to `#`, other gateways' topics and the collectors' shared subscription,
 * publishing forged FRC answers (well-formed, any msgId) on its own and other gateways' response
 * topics, retained collector presence, a collector's client id, and 1 MiB packets.
 *
 * Printed: readings accepted with the forged value (must be 0), readings per sensor and the
 * largest gap between two readings of one sensor in each phase (no reading lost or delayed by
 * more than one poll interval: the gap stays under two intervals), the collector's rejected
 * answers, the broker's refusals.
 */
import { fork } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { gatewayUsername, newPassword, type MqttCredentials } from '#broker';
import { silentLogger } from '#log';
import type { Scenario } from '#simulator';
import type { Reading } from '#telemetry';
import { startPlatform, type Platform } from '../platform/platform.ts';
import { startMosquitto } from '../test/support/services/mosquitto.ts';
import type { AttackersConfig } from './lib/mqtt-attackers.ts';
import { table } from './lib/table.ts';

const { values: args } = parseArgs({
  options: {
    scenario: { type: 'string', default: 'demo' },
    seconds: { type: 'string', default: '20' },
    'poll-ms': { type: 'string', default: '1000' },
    attackers: { type: 'string', default: '10' },
    broker: { type: 'string', default: 'embedded' },
    // Attempts a second per attacker; 0: as fast as the broker answers.
    rate: { type: 'string', default: '0' },
  },
});
const rate = Number(args.rate);
const seconds = Number(args.seconds);
const pollMs = Number(args['poll-ms']);
const attackers = Number(args.attackers);
const FORGED = 777_986;

// Saving as deploy/mosquitto.conf does (every second), not on every change as the tests do.
const mosquitto = args.broker === 'mosquitto' ? await startMosquitto({ saveOnEveryChange: false }) : undefined;
const platform: Platform = await startPlatform({
  logger: silentLogger,
  scenario: args.scenario as Scenario['name'],
  simulate: true,
  mqttPort: 0,
  ...(mosquitto ? { mqttUrl: mosquitto.url, mqttAdmin: mosquitto.admin } : {}),
  routerPort: 0,
  subgraphPorts: { devices: 0, telemetry: 0, infrastructure: 0, opendata: 0 },
  pollIntervalMs: pollMs,
  nodeReadyDelayMs: 100,
});
const readings: Reading[] = [];
platform.bus.subscribe((batch) => readings.push(...batch));

/** Runs the attackers in a process of their own for one phase; resolves with their attempts and CPU time. */
async function attack(count: number): Promise<{ attempts: number; cpuMs: number }> {
  const accounts = [];
  for (let n = 0; n < count; n++) {
    const gatewayId = `hostile-${n}`;
    const credentials: MqttCredentials = { username: gatewayUsername(gatewayId), password: newPassword() };
    await platform.mqttAccounts.upsert({ username: credentials.username, role: 'gateway', gatewayId }, credentials.password);
    accounts.push({ gatewayId, credentials });
  }
  const config: AttackersConfig = {
    url: platform.mqttUrl,
    protocolVersion: mosquitto ? 5 : 4,
    seconds,
    accounts,
    victims: platform.scenario.gateways.map((g) => g.id),
    collectorId: `collector-${process.pid}`,
    forgedValue: FORGED,
    rate,
  };
  const child = fork(fileURLToPath(new URL('./lib/mqtt-attackers.ts', import.meta.url)), [JSON.stringify(config)], {
    execArgv: ['--import', 'tsx'],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  return new Promise((resolve, reject) => {
    child.once('message', (message) => resolve(message as { attempts: number; cpuMs: number }));
    child.once('exit', (code) => code && reject(new Error(`the attackers' process exited with ${code}`)));
  });
}

interface Phase {
  name: string;
  sensors: number;
  perSensor: number;
  maxGapMs: number;
  forged: number;
  attempts: number;
  polls: number;
  failedPolls: number;
  /** Percent of one core during the phase. */
  cpu: { platform: number; broker: number; attackers: number };
}

/** CPU time (ms) of the Mosquitto this process started (0 with the embedded broker: it is in this process). */
function mosquittoCpuMs(): number {
  let ms = 0;
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      // After the command in parentheses: state ppid ... utime(14) stime(15), in clock ticks (100 a second).
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(fields[1]) === process.pid && readFileSync(`/proc/${entry}/cmdline`, 'utf8').includes('mosquitto'))
        ms += (Number(fields[11]) + Number(fields[12])) * 10;
    } catch {
      // the process ended meanwhile
    }
  }
  return ms;
}

async function phase(name: string, withAttackers: number): Promise<Phase> {
  const from = readings.length;
  const statsBefore = platform.collector.stats;
  const platformCpuBefore = process.cpuUsage();
  const brokerCpuBefore = mosquittoCpuMs();
  const started = Date.now();
  const until = started + seconds * 1000;
  const [attackers] = await Promise.all([
    withAttackers ? attack(withAttackers) : { attempts: 0, cpuMs: 0 },
    new Promise((resolve) => setTimeout(resolve, until - Date.now())),
  ]);
  const window = readings.slice(from);
  const times = new Map<string, number[]>();
  for (const reading of window) times.set(reading.sensorId, [...(times.get(reading.sensorId) ?? []), reading.time]);
  const statsAfter = platform.collector.stats;
  const platformCpu = process.cpuUsage(platformCpuBefore);
  const brokerCpu = mosquittoCpuMs() - brokerCpuBefore;
  let maxGapMs = 0;
  for (const series of times.values()) for (let i = 1; i < series.length; i++) maxGapMs = Math.max(maxGapMs, series[i]! - series[i - 1]!);
  return {
    name,
    sensors: times.size,
    perSensor: window.length / Math.max(1, times.size),
    maxGapMs,
    forged: window.filter((r) => r.value === FORGED).length,
    attempts: attackers.attempts,
    polls: statsAfter.polls - statsBefore.polls,
    failedPolls: statsAfter.failedRequests - statsBefore.failedRequests,
    cpu: {
      platform: (platformCpu.user + platformCpu.system) / 1000 / seconds / 10,
      broker: brokerCpu / seconds / 10,
      attackers: attackers.cpuMs / seconds / 10,
    },
  };
}

// Let every gateway be polled once (enumerations cached) before measuring.
await new Promise((resolve) => setTimeout(resolve, 3 * pollMs));
const rejectedBefore = { ...platform.collector.stats.rejectedAnswers };
const quiet = await phase('no attackers', 0);
const hostile = await phase(`${attackers} attackers`, attackers);
const rejected = platform.collector.stats.rejectedAnswers;

console.log(
  `\nscenario ${args.scenario}, broker ${args.broker}, poll every ${pollMs} ms, ${seconds} s a phase, attackers ${rate ? `at ${rate} attempts/s each` : 'as fast as the broker answers'}\n`,
);
console.log(
  table(
    [
      'phase',
      'attempts',
      'polls (failed)',
      'sensors read',
      'readings per sensor',
      'largest gap (ms)',
      'gap / poll interval',
      'forged readings accepted',
      'CPU % platform / broker / attackers',
    ],
    [quiet, hostile].map((p) => [
      p.name,
      p.attempts,
      `${p.polls} (${p.failedPolls})`,
      p.sensors,
      p.perSensor.toFixed(1),
      p.maxGapMs,
      (p.maxGapMs / pollMs).toFixed(2),
      p.forged,
      `${p.cpu.platform.toFixed(0)} / ${mosquitto ? p.cpu.broker.toFixed(0) : 'in platform'} / ${p.cpu.attackers.toFixed(0)}`,
    ]),
  ),
);
console.log(`\nreadings per sensor under attack / without: ${(hostile.perSensor / quiet.perSensor).toFixed(3)}`);
console.log(
  `collector rejected answers during the attack: ${JSON.stringify(Object.fromEntries(Object.entries(rejected).map(([k, v]) => [k, v - (rejectedBefore[k as keyof typeof rejected] ?? 0)])))}`,
);
if (platform.broker) console.log(`embedded broker refusals: ${JSON.stringify(platform.broker.refused)}`);
const met = hostile.forged === 0 && hostile.maxGapMs < 2 * pollMs && hostile.sensors === quiet.sensors;
console.log(`\ntarget (0 forged readings, every sensor read, no gap over two poll intervals): ${met ? 'met' : 'NOT met'}`);

await platform.close();
await mosquitto?.stop();
process.exit(0);
