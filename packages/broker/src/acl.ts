import { defaultTopics, meshChangedTopics, topicFor } from '#iqrf';

/**
 * Who an MQTT client is. Every client of the platform's broker is one of these, and its client id
 * is its username: nobody can take over another identity's session.
 *
 * - `gateway`: one gateway's IQRF daemon (credentials issued by `registerGateway`).
 * - `collector`: a collector process (its `COLLECTOR_ID`).
 * - `api`: the devices subgraph's IQRF client.
 */
export type MqttRole = 'gateway' | 'collector' | 'api';

export interface MqttAccount {
  username: string;
  role: MqttRole;
  /** For `gateway` accounts: the gateway whose topics it may use. */
  gatewayId?: string;
}

/** One rule, in the shape of Mosquitto's dynamic security plugin (the embedded broker reads the same). */
export interface AclRule {
  acltype: 'publishClientSend' | 'publishClientReceive' | 'subscribeLiteral';
  topic: string;
  allow: true;
}

/** The collectors' shared subscription group (MQTT 5). */
export const COLLECTOR_GROUP = 'collectors';
/** Where collectors announce themselves (retained; cleared by their last will). */
export const collectorPresence = { of: (name: string) => `iot/collectors/${name}`, filter: 'iot/collectors/+' };

const anyGateway = '+';

/** The username (and client id) of a gateway's daemon. */
export function gatewayUsername(gatewayId: string): string {
  return `gateway:${gatewayId}`;
}

/**
 * What an identity may do, and nothing more. A gateway: subscribe to its own request topic and
 * publish on its own response topic. A collector: ask every gateway, read every answer (also
 * through the collectors' shared subscription), announce itself only under its own name, follow
 * the others and mesh changes. The API: ask every gateway, read every answer, announce mesh changes.
 * Anything not listed is refused (publishing, subscribing) by both brokers.
 */
export function aclOf(account: MqttAccount): AclRule[] {
  const publish = (topic: string): AclRule => ({ acltype: 'publishClientSend', topic, allow: true });
  const subscribe = (topic: string): AclRule => ({ acltype: 'subscribeLiteral', topic, allow: true });
  const responses = topicFor(defaultTopics.responses, anyGateway);
  switch (account.role) {
    case 'gateway': {
      if (!account.gatewayId) throw new Error(`gateway account "${account.username}" names no gateway`);
      return [
        publish(topicFor(defaultTopics.responses, account.gatewayId)),
        subscribe(topicFor(defaultTopics.requests, account.gatewayId)),
      ];
    }
    case 'collector':
      return [
        publish(topicFor(defaultTopics.requests, anyGateway)),
        publish(collectorPresence.of(account.username)),
        subscribe(responses),
        // Mosquitto checks a shared subscription by its full filter; list both forms.
        subscribe(`$share/${COLLECTOR_GROUP}/${responses}`),
        subscribe(collectorPresence.filter),
        subscribe(meshChangedTopics.filter),
      ];
    case 'api':
      return [
        publish(topicFor(defaultTopics.requests, anyGateway)),
        publish(meshChangedTopics.filter),
        subscribe(responses),
        subscribe(meshChangedTopics.filter),
      ];
  }
}

/** Whether `account` may publish on `topic` (a concrete topic, no wildcards). */
export function mayPublish(account: MqttAccount, topic: string): boolean {
  if (topic.includes('+') || topic.includes('#')) return false;
  return aclOf(account).some((rule) => rule.acltype === 'publishClientSend' && topicMatches(rule.topic, topic));
}

/** Whether `account` may subscribe to `filter`: only the filters its rules name, literally. */
export function maySubscribe(account: MqttAccount, filter: string): boolean {
  return aclOf(account).some((rule) => rule.acltype === 'subscribeLiteral' && rule.topic === filter);
}

/** MQTT topic matching: `filter` may hold `+` (one level) and a trailing `#`. */
export function topicMatches(filter: string, topic: string): boolean {
  const want = filter.split('/');
  const have = topic.split('/');
  for (let i = 0; i < want.length; i++) {
    if (want[i] === '#') return true;
    if (i >= have.length) return false;
    if (want[i] !== '+' && want[i] !== have[i]) return false;
  }
  return want.length === have.length;
}
