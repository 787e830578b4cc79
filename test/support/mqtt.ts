import type { MqttClient } from 'mqtt';
import { gatewayUsername, newPassword, type BrokerAccounts, type MqttAccount, type MqttCredentials } from '#broker';
import { connectMqtt, createMqttClient, type MqttOptions } from '#iqrf';
import { silentLogger } from '#log';
import { IqrfDaemonSimulator, type Scenario } from '#simulator';

/** Makes an account with a fresh password on a broker (embedded or Mosquitto) and returns its credentials. */
export type AccountMaker = (account: MqttAccount) => Promise<MqttCredentials>;

export function accountMaker(accounts: BrokerAccounts): AccountMaker {
  return async (account) => {
    const password = newPassword();
    await accounts.upsert(account, password);
    return { username: account.username, password };
  };
}

/** A client connected as a new account of `role`. */
export async function connectAs(
  url: string,
  makeAccount: AccountMaker,
  account: MqttAccount,
  options: MqttOptions = {},
): Promise<MqttClient> {
  return connectMqtt(url, { credentials: await makeAccount(account), ...options });
}

/**
 * The scenario's IQRF daemons, each connected as its own gateway with credentials made for it,
 * as the platform's provisioning gives them; resolves once all listen. `stop()` disconnects them.
 */
export async function startDaemons(
  url: string,
  scenario: Scenario,
  makeAccount: AccountMaker,
  options: MqttOptions = {},
): Promise<IqrfDaemonSimulator> {
  const daemons = new IqrfDaemonSimulator({
    scenario,
    logger: silentLogger,
    connect: (credentials) => createMqttClient(url, { credentials, ...options }),
  });
  await daemons.start();
  for (const gateway of scenario.gateways) {
    daemons.setCredentials(
      gateway.id,
      await makeAccount({ username: gatewayUsername(gateway.id), role: 'gateway', gatewayId: gateway.id }),
    );
  }
  await daemons.listening();
  return daemons;
}
