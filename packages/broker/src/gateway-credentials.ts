import { gatewayUsername } from './acl.ts';
import { newPassword, type BrokerAccounts, type MqttCredentials } from './accounts.ts';

/** What a gateway's IQRF daemon connects with, as `registerGateway` hands it over (once). */
export interface GatewayMqttCredentials extends MqttCredentials {
  gatewayId: string;
  /** Also its MQTT client id. */
  clientId: string;
}

export type CredentialsListener = (gatewayId: string, credentials: GatewayMqttCredentials | undefined) => void;

/**
 * Issues, rotates and revokes gateways' MQTT credentials on the broker: a new random password
 * each time, handed to the caller once and kept by the broker only as a hash. Issuing again is a
 * rotation: the old password stops working for new connections at once, and the open session
 * lasts until the daemon reconnects with the new one (so nothing in flight is lost). Revoking
 * disconnects it at once. Listeners hear of each change: the simulator installs what it is given, as an installer
 * would on a real gateway.
 */
export class GatewayCredentials {
  private readonly listeners = new Set<CredentialsListener>();

  constructor(private readonly accounts: BrokerAccounts) {}

  async issue(gatewayId: string): Promise<GatewayMqttCredentials> {
    const username = gatewayUsername(gatewayId);
    const password = newPassword();
    await this.accounts.upsert({ username, role: 'gateway', gatewayId }, password);
    const credentials = { gatewayId, username, clientId: username, password };
    for (const listener of this.listeners) listener(gatewayId, credentials);
    return credentials;
  }

  async revoke(gatewayId: string): Promise<boolean> {
    const removed = await this.accounts.remove(gatewayUsername(gatewayId));
    for (const listener of this.listeners) listener(gatewayId, undefined);
    return removed;
  }

  /** Hears every issue (with the credentials) and revocation (`undefined`); returns the function that stops it. */
  onChange(listener: CredentialsListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
}
