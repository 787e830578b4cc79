/**
 * Child process of `bench/ingest.ts`: the simulated IQRF daemons of a scenario, answering on one
 * MQTT connection, so that the load generator does not share an event loop (or a CPU account)
 * with the collector or relay under test.
 *
 * Usage (forked with IPC): ingest-simulator.ts <mqttUrl> <scenario>. Sends `{ ready: true }`
 * once subscribed; answers `'cpu'` with `{ cpu: process.cpuUsage() }`; exits on `'stop'`.
 */
import { connectMqtt } from '#iqrf';
import { silentLogger } from '#log';
import { buildScenario, IqrfDaemonSimulator, scenarioNames, type Scenario } from '#simulator';

async function main(): Promise<void> {
  const [mqttUrl, scenarioName = 'pisek'] = process.argv.slice(2);
  if (!mqttUrl || !process.send) throw new Error('usage: fork(ingest-simulator.ts, [mqttUrl, scenario]) with an IPC channel');
  if (!(scenarioNames as readonly string[]).includes(scenarioName)) throw new Error(`unknown scenario ${scenarioName}`);
  const mqtt = await connectMqtt(mqttUrl, { clientId: `bench-simulator-${process.pid}`, protocolVersion: 5 });
  const daemons = new IqrfDaemonSimulator({ mqtt, scenario: buildScenario(scenarioName as Scenario['name']), logger: silentLogger });
  await daemons.start();
  process.on('message', (message) => {
    if (message === 'cpu') process.send!({ cpu: process.cpuUsage() });
    if (message === 'stop') {
      daemons.stop();
      void mqtt.endAsync().finally(() => process.exit(0));
    }
  });
  process.send({ ready: true });
}

main().catch((error: unknown) => {
  process.stderr.write(`ingest simulator: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});
