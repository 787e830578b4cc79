import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { MqttAccount } from './acl.ts';

/** What an MQTT client connects with. The client id is the username. */
export interface MqttCredentials {
  username: string;
  password: string;
}

/**
 * The broker's accounts, as the platform manages them: the embedded broker's own store, or
 * Mosquitto's dynamic security plugin. Passwords are handed over once and kept only as hashes.
 */
export interface BrokerAccounts {
  /**
   * Creates the account, or gives an existing one this password: new connections need it at
   * once. An open session is kept until its client reconnects with the new password (which, its
   * client id being its username, also ends any other session of that identity): a rotation then
   * loses no message in flight.
   */
  upsert(account: MqttAccount, password: string): Promise<void>;
  /** Deletes the account and closes its sessions at once; false when there was none. */
  remove(username: string): Promise<boolean>;
  close(): Promise<void>;
}

/** A new random password (256 bits): strong enough to keep only a plain SHA-256 of it. */
export function newPassword(): string {
  return randomBytes(32).toString('base64url');
}

export function passwordHash(password: string | Buffer): Buffer {
  return createHash('sha256').update(password).digest();
}

/** Compares a presented password with a stored hash in constant time. */
export function passwordMatches(password: string | Buffer, hash: Buffer): boolean {
  const given = passwordHash(password);
  return given.length === hash.length && timingSafeEqual(given, hash);
}
