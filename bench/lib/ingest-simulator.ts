/**
 * Child process of `bench/ingest.ts`: the simulated IQRF daemons of a scenario, so that the load
 * generator does not share an event loop (or a CPU account) with the collector or relay under test.
 * The broker is locked: each daemon connects with its own gateway account (client id = username,
 * its own request and response topics only), made here through the dynamic security plugin with
 * the admin credentials the parent sends, as the platform's provisioning makes them.
 *
 * Usage (forked with IPC): ingest-simulator.ts <mqttUrl> <scenario>, then the parent sends
 * `{ admin: { username, password } }` (kept off the command line). Sends `{ ready: true }` once
 * every daemon listens; answers `'cpu'` with `{ cpu: process.cpuUsage() }`; exits on `'stop'`.
 */
import { DynsecAccounts, type MqttCredentials } from '#broker';
import { silentLogger } from '#log';
import { buildScenario, scenarioNames, type Scenario } from '#simulator';
import { accountMaker, startDaemons } from '../../test/support/mqtt.ts';

function adminFromParent(): Promise<MqttCredentials> {
  return new Promise((resolve) => {
    const onMessage = (message: unknown) => {
      const admin = (message as { admin?: MqttCredentials }).admin;
      if (!admin) return;
      process.off('message', onMessage);
      resolve(admin);
    };
    process.on('message', onMessage);
  });
}

async function main(): Promise<void> {
  const [mqttUrl, scenarioName = 'pisek'] = process.argv.slice(2);
  if (!mqttUrl || !process.send) throw new Error('usage: fork(ingest-simulator.ts, [mqttUrl, scenario]) with an IPC channel');
  if (!(scenarioNames as readonly string[]).includes(scenarioName)) throw new Error(`unknown scenario ${scenarioName}`);
  const accounts = await DynsecAccounts.connect(mqttUrl, await adminFromParent(), { protocolVersion: 5 }, silentLogger);
  const daemons = await startDaemons(mqttUrl, buildScenario(scenarioName as Scenario['name']), accountMaker(accounts), {
    protocolVersion: 5,
  });
  await accounts.close();
  process.on('message', (message) => {
    if (message === 'cpu') process.send!({ cpu: process.cpuUsage() });
    if (message === 'stop') {
      daemons.stop();
      process.exit(0);
    }
  });
  process.send({ ready: true });
}

main().catch((error: unknown) => {
  process.stderr.write(`ingest simulator: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});
