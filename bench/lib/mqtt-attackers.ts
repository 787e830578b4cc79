/**
 * The hostile MQTT clients of bench/mqtt-hostile.ts, in a process of their own (as on another
 * host): forked with a JSON config as its only argument; sends `{ attempts }` when done.
 */
import type { MqttClient } from 'mqtt';
import { collectorPresence, COLLECTOR_GROUP, gatewayUsername, newPassword, type MqttCredentials } from '#broker';
import { connectMqtt, defaultTopics, topicFor, type MqttOptions } from '#iqrf';

export interface AttackersConfig {
  url: string;
  protocolVersion: 4 | 5;
  seconds: number;
  /** One account per attacker: a gateway `hostile-<n>` of its own, as a stolen gateway would give. */
  accounts: Array<{ gatewayId: string; credentials: MqttCredentials }>;
  /** Gateways whose topics and names they go after. */
  victims: string[];
  /** A collector's client id they try to take. */
  collectorId: string;
  /** The value of every forged reading. */
  forgedValue: number;
  /** Attempts a second per attacker at most; 0: as fast as the broker answers. */
  rate: number;
}

async function attack(config: AttackersConfig, n: number, until: number): Promise<number> {
  const { gatewayId, credentials: own } = config.accounts[n]!;
  const victim = config.victims[n % config.victims.length]!;
  const protocol: MqttOptions = { protocolVersion: config.protocolVersion };
  // A well-formed FRC answer with a msgId the platform never issued.
  const forged = () =>
    JSON.stringify({
      mType: 'iqrfSensor_Frc',
      data: {
        msgId: newPassword().slice(0, 36),
        status: 0,
        rsp: {
          result: { sensorIndex: 0, selectedNodes: [1, 2, 21], sensors: [2, 160, 1].map((type) => ({ type, value: config.forgedValue })) },
        },
      },
    });
  let attempts = 0;
  const started = Date.now();
  const quietly = async (work: () => Promise<unknown>) => {
    attempts++;
    const due = started + (attempts * 1000) / config.rate - Date.now();
    if (config.rate && due > 0) await new Promise((resolve) => setTimeout(resolve, due));
    await Promise.race([work().catch(() => undefined), new Promise((resolve) => setTimeout(resolve, 300))]);
  };
  const once = async (options: MqttOptions, act: (client: MqttClient) => Promise<unknown>) => {
    let client: MqttClient | undefined;
    await quietly(async () => {
      client = await connectMqtt(config.url, { ...protocol, ...options });
      await act(client);
    });
    client?.end(true);
  };
  while (Date.now() < until) {
    await once({ clientId: `anonymous-${n}` }, async () => undefined);
    await once({ credentials: { username: gatewayUsername(victim), password: 'guess' } }, async () => undefined);
    await once({ credentials: own, clientId: config.collectorId }, async () => undefined);
    await once({ credentials: own }, async (client) => {
      for (const filter of [
        '#',
        topicFor(defaultTopics.responses, '+'),
        topicFor(defaultTopics.requests, victim),
        `$share/${COLLECTOR_GROUP}/${topicFor(defaultTopics.responses, '+')}`,
        collectorPresence.filter,
      ]) {
        await quietly(() => client.subscribeAsync(filter, { qos: 1 }));
      }
      for (let i = 0; i < 20; i++)
        await quietly(() => client.publishAsync(topicFor(defaultTopics.responses, gatewayId), forged(), { qos: 1 }));
      await quietly(() => client.publishAsync(topicFor(defaultTopics.responses, victim), forged(), { qos: 1 }));
    });
    await once({ credentials: own }, (client) => client.publishAsync(collectorPresence.of(`phantom-${n}`), '{}', { qos: 1, retain: true }));
    await once({ credentials: own }, (client) =>
      client.publishAsync(topicFor(defaultTopics.responses, gatewayId), Buffer.alloc(1024 * 1024, 'x'), { qos: 0 }),
    );
  }
  return attempts;
}

const config = JSON.parse(process.argv[2] ?? '{}') as AttackersConfig;
const until = Date.now() + config.seconds * 1000;
const attempts = await Promise.all(config.accounts.map((_, n) => attack(config, n, until)));
const { user, system } = process.cpuUsage();
process.send!({ attempts: attempts.reduce((a, b) => a + b, 0), cpuMs: (user + system) / 1000 });
process.exit(0);
