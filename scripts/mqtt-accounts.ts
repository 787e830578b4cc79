/**
 * The platform's accounts on Mosquitto's dynamic security plugin.
 *
 * `npm run mqtt-accounts -- init <file>` writes the plugin's first configuration (its
 * `plugin_opt_config_file`) when the file does not exist yet: the admin (MQTT_ADMIN_USERNAME,
 * default `platform-admin`, and MQTT_ADMIN_PASSWORD) and the service accounts of MQTT_ACCOUNTS
 * (`username:role:password,...`, roles `collector` and `api`).
 *
 * `npm run mqtt-accounts -- add <username> <collector|api>` makes (or gives a new password to) a
 * service account on the running broker (MQTT_URL, with the admin's credentials) and prints its
 * password. Gateways' accounts are made by `registerGateway`, not here.
 */
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { dynsecConfig, DynsecAccounts, mqttSettingsFromEnv, newPassword, type MqttAccount, type MqttRole } from '#broker';
import { envConfig } from '#kit';
import { createLogger } from '#log';

const usage = `usage: npm run mqtt-accounts -- init <dynamic-security.json>   (MQTT_ADMIN_PASSWORD, MQTT_ACCOUNTS=user:role:password,...)
       npm run mqtt-accounts -- add <username> <collector|api>        (MQTT_URL, MQTT_ADMIN_USERNAME, MQTT_ADMIN_PASSWORD)`;
const serviceRoles: readonly MqttRole[] = ['collector', 'api'];

/** Service usernames are also client ids and topic levels (`iot/collectors/<name>`): no wildcards, no `gateway:`. */
const SERVICE_USERNAME = /^[a-z0-9][a-z0-9-]{0,62}$/;

function username(text: string | undefined): string {
  if (!text || !SERVICE_USERNAME.test(text))
    throw new Error(`a service username is 1-63 lowercase letters, digits or dashes, got ${JSON.stringify((text ?? '').slice(0, 40))}`);
  return text;
}

function role(text: string | undefined): MqttRole {
  if (!serviceRoles.includes(text as MqttRole))
    throw new Error(`the role must be one of ${serviceRoles.join(', ')}, got "${text ?? ''}"\n${usage}`);
  return text as MqttRole;
}

async function main(): Promise<void> {
  const [command, ...args] = process.argv.slice(2);
  const env = envConfig();
  if (command === 'init') {
    const [file] = args;
    if (!file) throw new Error(usage);
    if (existsSync(file)) return void console.error(`${file} exists: the broker keeps its accounts there; left as it is`);
    const password = env.optional('MQTT_ADMIN_PASSWORD');
    if (!password) throw new Error('MQTT_ADMIN_PASSWORD is required');
    const services = (env.optional('MQTT_ACCOUNTS') ?? '')
      .split(',')
      .filter(Boolean)
      .map((entry) => {
        // The password is everything after the second colon (it may hold colons itself).
        const [user, name, ...rest] = entry.split(':');
        const secret = rest.join(':');
        if (!user || !secret) throw new Error(`MQTT_ACCOUNTS entries are username:role:password, got "${entry.slice(0, 20)}..."`);
        return { account: { username: username(user), role: role(name) } satisfies MqttAccount, password: secret };
      });
    await writeFile(file, dynsecConfig({ username: env.string('MQTT_ADMIN_USERNAME', 'platform-admin'), password }, services), {
      mode: 0o600,
    });
    return void console.error(
      `${file}: the admin and ${services.length} service accounts (${services.map((s) => s.account.username).join(', ')})`,
    );
  }
  if (command === 'add') {
    const [user, name] = args;
    if (!user) throw new Error(usage);
    const account: MqttAccount = { username: username(user), role: role(name) };
    const settings = mqttSettingsFromEnv(env);
    if (!settings.admin) throw new Error('MQTT_ADMIN_USERNAME and MQTT_ADMIN_PASSWORD are required');
    const accounts = await DynsecAccounts.connect(
      settings.url,
      settings.admin,
      { protocolVersion: 5, ...(settings.ca ? { ca: settings.ca } : {}) },
      createLogger('mqtt-accounts', 'warn'),
    );
    try {
      const password = newPassword();
      await accounts.upsert(account, password);
      console.error(
        `Account ${account.username} (${account.role}) is ready; its client id must be ${account.username}. Its password, shown once:`,
      );
      console.log(password);
    } finally {
      await accounts.close();
    }
    return;
  }
  throw new Error(usage);
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : String(error));
  process.exit(2);
});
