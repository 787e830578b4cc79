/**
 * The device plane under attack (a benchmark, not a test): the platform collects the city while
 * hostile MQTT clients try everything an outsider on the same network would, and we count what
 * reached the readings and what the honest gateways lost, against a phase without attackers
 * measured in the same run.
 *
 *   npx tsx bench/mqtt-hostile.ts [--scenario demo|pisek] [--seconds 20] [--poll-ms 1000]
 *                                 [--attackers 10] [--broker embedded|mosquitto]
 *
 * Each attacker loops over: anonymous connections; a gateway's username with a guessed
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
import { parseArgs } from 'node:util';
import type { MqttClient } from 'mqtt';
import { collectorPresence, COLLECTOR_GROUP, gatewayUsername, newPassword, type MqttCredentials } from '#broker';
import { connectMqtt, defaultTopics, topicFor, type MqttOptions } from '#iqrf';
import { silentLogger } from '#log';
import type { Scenario } from '#simulator';
import type { Reading } from '#telemetry';
import { startPlatform, type Platform } from '../platform/platform.ts';
import { startMosquitto } from '../test/support/services/mosquitto.ts';
import { table } from './lib/table.ts';

const { values: args } = parseArgs({
  options: {
    scenario: { type: 'string', default: 'demo' },
    seconds: { type: 'string', default: '20' },
    'poll-ms': { type: 'string', default: '1000' },
    attackers: { type: 'string', default: '10' },
    broker: { type: 'string', default: 'embedded' },
  },
});
const seconds = Number(args.seconds);
const pollMs = Number(args['poll-ms']);
const attackers = Number(args.attackers);
const FORGED = 777_986;

const mosquitto = args.broker === 'mosquitto' ? await startMosquitto() : undefined;
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
const protocol: MqttOptions = { protocolVersion: mosquitto ? 5 : 4 };
const readings: Reading[] = [];
platform.bus.subscribe((batch) => readings.push(...batch));

/** One attacker's loop until `until`; every failure is expected and ignored. */
async function attack(n: number, until: number): Promise<number> {
  const url = platform.mqttUrl;
  const own: MqttCredentials = { username: gatewayUsername(`hostile-${n}`), password: newPassword() };
  await platform.mqttAccounts.upsert({ username: own.username, role: 'gateway', gatewayId: `hostile-${n}` }, own.password);
  const victim = platform.scenario.gateways[n % platform.scenario.gateways.length]!.id;
  // A well-formed FRC answer with a msgId the platform never issued.
  const forged = () =>
    JSON.stringify({ mType: 'iqrfSensor_Frc', data: { msgId: newPassword().slice(0, 36), status: 0, rsp: { result: { sensorIndex: 0, selectedNodes: [1, 2, 21], sensors: [{ type: 2, value: FORGED }, { type: 160, value: FORGED }, { type: 1, value: FORGED }] } } } });
  let attempts = 0;
  const quietly = async (work: () => Promise<unknown>) => {
    attempts++;
    await Promise.race([work().catch(() => undefined), new Promise((resolve) => setTimeout(resolve, 300))]);
  };
  const once = async (options: MqttOptions, act: (client: MqttClient) => Promise<unknown>) => {
    let client: MqttClient | undefined;
    await quietly(async () => {
      client = await connectMqtt(url, { ...protocol, ...options });
      await act(client);
    });
    client?.end(true);
  };
  while (Date.now() < until) {
    await once({ clientId: `anonymous-${n}` }, async () => undefined);
    await once({ credentials: { username: gatewayUsername(victim), password: 'guess' } }, async () => undefined);
    await once({ credentials: own, clientId: `collector-${process.pid}` }, async () => undefined);
    await once({ credentials: own }, async (client) => {
      for (const filter of ['#', topicFor(defaultTopics.responses, '+'), topicFor(defaultTopics.requests, victim), `$share/${COLLECTOR_GROUP}/${topicFor(defaultTopics.responses, '+')}`, collectorPresence.filter]) {
        await quietly(() => client.subscribeAsync(filter, { qos: 1 }));
      }
      for (let i = 0; i < 20; i++) await quietly(() => client.publishAsync(topicFor(defaultTopics.responses, `hostile-${n}`), forged(), { qos: 1 }));
      await quietly(() => client.publishAsync(topicFor(defaultTopics.responses, victim), forged(), { qos: 1 }));
    });
    await once({ credentials: own }, (client) => client.publishAsync(collectorPresence.of(`phantom-${n}`), '{}', { qos: 1, retain: true }));
    await once({ credentials: own }, (client) => client.publishAsync(topicFor(defaultTopics.responses, `hostile-${n}`), Buffer.alloc(1024 * 1024, 'x'), { qos: 0 }));
  }
  return attempts;
}

interface Phase {
  name: string;
  sensors: number;
  perSensor: number;
  maxGapMs: number;
  forged: number;
  attempts: number;
}

async function phase(name: string, withAttackers: number): Promise<Phase> {
  const from = readings.length;
  const started = Date.now();
  const until = started + seconds * 1000;
  const attempts = await Promise.all([...Array.from({ length: withAttackers }, (_, n) => attack(n, until)), new Promise<number>((resolve) => setTimeout(() => resolve(0), seconds * 1000))]);
  const window = readings.slice(from);
  const times = new Map<string, number[]>();
  for (const reading of window) times.set(reading.sensorId, [...(times.get(reading.sensorId) ?? []), reading.time]);
  let maxGapMs = 0;
  for (const series of times.values()) for (let i = 1; i < series.length; i++) maxGapMs = Math.max(maxGapMs, series[i]! - series[i - 1]!);
  return {
    name,
    sensors: times.size,
    perSensor: window.length / Math.max(1, times.size),
    maxGapMs,
    forged: window.filter((r) => r.value === FORGED).length,
    attempts: attempts.reduce((a, b) => a + b, 0),
  };
}

// Let every gateway be polled once (enumerations cached) before measuring.
await new Promise((resolve) => setTimeout(resolve, 3 * pollMs));
const rejectedBefore = { ...platform.collector.stats.rejectedAnswers };
const quiet = await phase('no attackers', 0);
const hostile = await phase(`${attackers} attackers`, attackers);
const rejected = platform.collector.stats.rejectedAnswers;

console.log(`\nscenario ${args.scenario}, broker ${args.broker}, poll every ${pollMs} ms, ${seconds} s a phase\n`);
console.log(
  table(
    ['phase', 'attempts', 'sensors read', 'readings per sensor', 'largest gap (ms)', 'gap / poll interval', 'forged readings accepted'],
    [quiet, hostile].map((p) => [p.name, p.attempts, p.sensors, p.perSensor.toFixed(1), p.maxGapMs, (p.maxGapMs / pollMs).toFixed(2), p.forged]),
  ),
);
console.log(`\nreadings per sensor under attack / without: ${(hostile.perSensor / quiet.perSensor).toFixed(3)}`);
console.log(`collector rejected answers during the attack: ${JSON.stringify(Object.fromEntries(Object.entries(rejected).map(([k, v]) => [k, v - (rejectedBefore[k as keyof typeof rejected] ?? 0)])))}`);
if (platform.broker) console.log(`embedded broker refusals: ${JSON.stringify(platform.broker.refused)}`);
const met = hostile.forged === 0 && hostile.maxGapMs < 2 * pollMs && hostile.sensors === quiet.sensors;
console.log(`\ntarget (0 forged readings, every sensor read, no gap over two poll intervals): ${met ? 'met' : 'NOT met'}`);

await platform.close();
await mosquitto?.stop();
process.exit(0);
