import { pbkdf2Sync, randomBytes } from 'node:crypto';
import type { MqttClient } from 'mqtt';
import { connectMqtt, type MqttOptions } from '#iqrf';
import type { Logger } from '#log';
import { aclOf, type AclRule, type MqttAccount } from './acl.ts';
import type { BrokerAccounts, MqttCredentials } from './accounts.ts';

const CONTROL = '$CONTROL/dynamic-security/v1';
const RESPONSES = `${CONTROL}/response`;
const TIMEOUT_MS = 10_000;

interface DynsecResponse {
  command: string;
  error?: string;
  correlationData?: string;
}

/** The role that carries an account's rules: one per account, named after it. */
export function roleOf(username: string): string {
  return `iot:${username}`;
}

/**
 * Mosquitto's dynamic security plugin as `BrokerAccounts`: commands published on
 * `$CONTROL/dynamic-security/v1` by an admin client, one batch at a time, answered on its
 * `/response` topic. Each account is a client with a role of its own holding `aclOf(account)`,
 * and its client id fixed to its username. Mosquitto hashes passwords itself (PBKDF2-SHA512) and
 * disconnects a deleted client at once.
 */
export class DynsecAccounts implements BrokerAccounts {
  private chain: Promise<unknown> = Promise.resolve();
  private waiting: { id: string; resolve(responses: DynsecResponse[]): void } | undefined;
  private subscribed: Promise<unknown> | undefined;
  private readonly onMessage = (topic: string, payload: Buffer) => {
    if (topic !== RESPONSES || !this.waiting) return;
    let responses: DynsecResponse[];
    try {
      responses = (JSON.parse(payload.toString('utf8')) as { responses: DynsecResponse[] }).responses;
    } catch {
      return;
    }
    if (!Array.isArray(responses) || responses[0]?.correlationData !== this.waiting.id) return;
    this.waiting.resolve(responses);
  };

  /**
   * Connects as the plugin's admin (a client id of its own each time: several processes may
   * manage accounts, and the admin's rights end at the plugin's topics).
   */
  static async connect(
    url: string,
    admin: MqttCredentials,
    options: Omit<MqttOptions, 'credentials' | 'clientId'>,
    logger: Logger,
  ): Promise<DynsecAccounts> {
    const client = await connectMqtt(url, {
      ...options,
      credentials: admin,
      clientId: `${admin.username}-${randomBytes(6).toString('hex')}`,
    });
    return new DynsecAccounts(client, logger);
  }

  /** `admin` is a connected client of a dynsec user allowed `$CONTROL/dynamic-security/#`; closing closes it. */
  constructor(
    private readonly admin: MqttClient,
    private readonly logger: Logger,
  ) {
    admin.on('message', this.onMessage);
  }

  async upsert(account: MqttAccount, password: string): Promise<void> {
    const rolename = roleOf(account.username);
    const [role, client] = await this.run([
      { command: 'createRole', rolename, acls: aclOf(account) },
      { command: 'createClient', username: account.username, password, clientid: account.username, roles: [{ rolename }] },
    ]);
    if (role?.error && !/exists/i.test(role.error)) throw new Error(`Mosquitto refused role ${rolename}: ${role.error}`);
    if (!client?.error) return;
    if (!/exists/i.test(client.error)) throw new Error(`Mosquitto refused client ${account.username}: ${client.error}`);
    // An existing account (a rotation, or a retry): a new password for every new connection.
    const [changed] = await this.run([{ command: 'setClientPassword', username: account.username, password }]);
    if (changed?.error) throw new Error(`Mosquitto refused a new password for ${account.username}: ${changed.error}`);
  }

  async remove(username: string): Promise<boolean> {
    const [client, role] = await this.run([
      { command: 'deleteClient', username },
      { command: 'deleteRole', rolename: roleOf(username) },
    ]);
    if (client?.error && !/not found/i.test(client.error))
      throw new Error(`Mosquitto refused deleting client ${username}: ${client.error}`);
    if (role?.error && !/not found/i.test(role.error)) this.logger.warn({ username, err: role.error }, 'dynsec role not deleted');
    return !client?.error;
  }

  async close(): Promise<void> {
    this.admin.off('message', this.onMessage);
    await this.admin.endAsync();
  }

  private run(commands: Array<Record<string, unknown>>): Promise<DynsecResponse[]> {
    const next = this.chain.then(() => this.send(commands));
    this.chain = next.catch(() => undefined);
    return next;
  }

  private async send(commands: Array<Record<string, unknown>>): Promise<DynsecResponse[]> {
    this.subscribed ??= this.admin.subscribeAsync(RESPONSES, { qos: 1 });
    await this.subscribed;
    const id = randomBytes(8).toString('hex');
    return new Promise<DynsecResponse[]>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiting = undefined;
        reject(
          new Error(
            `Mosquitto's dynamic security plugin did not answer ${commands.map((c) => c.command).join(', ')} within ${TIMEOUT_MS} ms`,
          ),
        );
      }, TIMEOUT_MS);
      this.waiting = {
        id,
        resolve: (responses) => {
          clearTimeout(timer);
          this.waiting = undefined;
          resolve(responses);
        },
      };
      const payload = JSON.stringify({ commands: commands.map((command) => ({ ...command, correlationData: id })) });
      this.admin.publish(CONTROL, payload, { qos: 1 }, (error) => {
        if (!error) return;
        clearTimeout(timer);
        this.waiting = undefined;
        reject(new Error(`cannot send dynsec commands: ${error.message}`));
      });
    });
  }
}

/**
 * A starting configuration of the dynamic security plugin (`plugin_opt_config_file`): an admin
 * that may only manage it, the platform's service accounts, and nothing for anonymous clients.
 * Passwords are stored as Mosquitto does (PBKDF2-SHA512, 101 iterations, a random salt).
 */
export function dynsecConfig(admin: MqttCredentials, services: ReadonlyArray<{ account: MqttAccount; password: string }>): string {
  const client = (username: string, password: string, rolename: string, clientid?: string) => {
    const salt = randomBytes(12);
    return {
      username,
      ...(clientid ? { clientid } : {}),
      password: pbkdf2Sync(password, salt, 101, 64, 'sha512').toString('base64'),
      salt: salt.toString('base64'),
      iterations: 101,
      roles: [{ rolename }],
    };
  };
  const adminAcls: AclRule[] = [
    { acltype: 'publishClientSend', topic: `${CONTROL.split('/v1')[0]}/#`, allow: true },
    { acltype: 'subscribeLiteral', topic: RESPONSES, allow: true },
    // Responses are `$CONTROL` topics: the default "may receive" does not reach them.
    { acltype: 'publishClientReceive', topic: RESPONSES, allow: true },
  ];
  const config = {
    clients: [
      client(admin.username, admin.password, 'platform-admin'),
      ...services.map(({ account, password }) => client(account.username, password, roleOf(account.username), account.username)),
    ],
    roles: [
      { rolename: 'platform-admin', acls: adminAcls },
      ...services.map(({ account }) => ({ rolename: roleOf(account.username), acls: aclOf(account) })),
    ],
    defaultACLAccess: { publishClientSend: false, publishClientReceive: true, subscribe: false, unsubscribe: true },
  };
  return JSON.stringify(config, null, 2);
}
