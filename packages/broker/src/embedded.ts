import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { Duplex } from 'node:stream';
import { Aedes, type AedesOptions, type Client } from 'aedes';
import { ThrottledWarnings, type Logger } from '#log';
import { mayPublish, maySubscribe, type MqttAccount } from './acl.ts';
import { newPassword, passwordHash, passwordMatches, type BrokerAccounts } from './accounts.ts';
import { PacketSizeGuard } from './packet-size-guard.ts';

export interface EmbeddedBrokerOptions {
  port: number;
  host?: string;
  logger: Logger;
  /** Largest MQTT packet accepted; a client announcing a larger one is disconnected. Default 256 KiB. */
  maxPacketBytes?: number;
}

export interface EmbeddedBroker {
  /** `mqtt://HOST:PORT` */
  url: string;
  /** Its accounts: every client authenticates, and may only use the topics of its identity. */
  accounts: BrokerAccounts;
  /** Refusals so far: connections, publications, subscriptions, oversized packets. */
  readonly refused: { connect: number; publish: number; subscribe: number; oversized: number };
  close(): Promise<void>;
}

/** What `maxPacketBytes` defaults to, on both brokers (deploy/mosquitto.conf says the same). */
export const MAX_PACKET_BYTES = 256 * 1024;

const BAD_CREDENTIALS = 4;
/** Compared against when the username is unknown. */
const UNKNOWN_ACCOUNT = passwordHash(newPassword());

/**
 * The embedded MQTT broker of `npm start` (aedes, in-memory persistence) on a TCP port, locked
 * like the real one: anonymous clients are refused, a client id must be its username, and each
 * identity may publish and subscribe only where `aclOf` says. Accounts live in memory: the
 * platform issues its services' and the simulated gateways' credentials at every start.
 */
export async function startEmbeddedBroker(options: EmbeddedBrokerOptions): Promise<EmbeddedBroker> {
  const { logger } = options;
  const maxPacketBytes = options.maxPacketBytes ?? MAX_PACKET_BYTES;
  const accounts = new Map<string, { account: MqttAccount; hash: Buffer }>();
  const identities = new WeakMap<Client, MqttAccount>();
  const refused = { connect: 0, publish: 0, subscribe: 0, oversized: 0 };
  // A session's identity, while its account exists: a revoked one may do nothing more, even
  // before its disconnection reaches it.
  const current = (client: Client): MqttAccount | undefined => {
    const account = identities.get(client);
    return account && accounts.has(account.username) ? account : undefined;
  };

  const hooks: AedesOptions = {
    authenticate(client, username, password, done) {
      const entry = username === undefined ? undefined : accounts.get(username);
      // Hashed whether the account exists or not: the time taken does not tell.
      const matches = passwordMatches(password ?? '', entry?.hash ?? UNKNOWN_ACCOUNT);
      if (!entry || !password || client.id !== username || !matches) {
        refused.connect++;
        const error = Object.assign(new Error('bad username or password'), { returnCode: BAD_CREDENTIALS });
        return done(error as Parameters<typeof done>[0], false);
      }
      identities.set(client, entry.account);
      done(null, true);
    },
    authorizePublish(client, packet, done) {
      // Wills and $SYS messages of the broker itself have no client.
      if (!client) return done(null);
      const account = current(client);
      if (account && mayPublish(account, packet.topic)) return done(null);
      refused.publish++;
      done(new Error(`${account?.username ?? 'client'} may not publish on ${packet.topic.slice(0, 80)}`));
    },
    authorizeSubscribe(client, subscription, done) {
      const account = current(client);
      if (account && maySubscribe(account, subscription.topic)) return done(null, subscription);
      refused.subscribe++;
      // A refused subscription is answered with a failure code, as MQTT wants, not a disconnection.
      done(null, null);
    },
  };
  const broker = await Aedes.createBroker(hooks);
  // One line an interval however many clients try: an attacker's packets are not log lines.
  const warnings = new ThrottledWarnings(logger);
  const server: Server = createServer((socket: Socket) => {
    // Acknowledgements go out at once: a client's next packet waits on them (Nagle's algorithm).
    socket.setNoDelay(true);
    const guard = new PacketSizeGuard(maxPacketBytes, (announced) => {
      refused.oversized++;
      warnings.warn('oversized-packet', 'MQTT packets over the size limit: connections closed', {
        remote: socket.remoteAddress,
        announced,
        limit: maxPacketBytes,
      });
    });
    // aedes reads the guarded bytes and writes to the socket.
    const connection = Duplex.from({ readable: guard, writable: socket });
    guard.on('error', () => socket.destroy());
    socket.on('error', () => guard.destroy());
    socket.on('close', () => connection.destroy());
    socket.pipe(guard);
    broker.handle(connection);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host ?? '127.0.0.1', () => resolve());
  });
  const address = server.address() as AddressInfo;

  const disconnect = (username: string) => {
    const clients = (broker as unknown as { clients: Record<string, Client | undefined> }).clients;
    clients[username]?.close();
  };

  return {
    url: `mqtt://${options.host ?? '127.0.0.1'}:${address.port}`,
    refused,
    accounts: {
      async upsert(account, password) {
        accounts.set(account.username, { account, hash: passwordHash(password) });
      },
      async remove(username) {
        const had = accounts.delete(username);
        disconnect(username);
        return had;
      },
      async close() {},
    },
    async close() {
      warnings.flush();
      await new Promise<void>((resolve) => broker.close(() => resolve()));
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
