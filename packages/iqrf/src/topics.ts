/** MQTT topic templates of the IQRF daemons; `{gatewayId}` is replaced by each gateway's id. */
export interface TopicScheme {
  requests: string;
  responses: string;
}

/** The per-gateway pair used by cloud setups (the daemon's own default is `Iqrf/DpaRequest`). */
export const defaultTopics: TopicScheme = {
  requests: 'gateway/{gatewayId}/iqrf/requests',
  responses: 'gateway/{gatewayId}/iqrf/responses',
};

export function topicFor(template: string, gatewayId: string): string {
  return template.replace('{gatewayId}', gatewayId);
}

/** The gateway id a concrete topic was made for, or undefined when it does not match the template. */
export function gatewayFromTopic(template: string, topic: string): string | undefined {
  const [before, after] = template.split('{gatewayId}') as [string, string | undefined];
  if (after === undefined) return topic === template ? '' : undefined;
  if (!topic.startsWith(before) || !topic.endsWith(after)) return undefined;
  const id = topic.slice(before.length, topic.length - after.length);
  return id && !id.includes('/') ? id : undefined;
}

/**
 * Announced (QoS 1) by whoever changes a gateway's mesh (bonding, unbonding, discovery), so that
 * every process caching what the daemon said about that mesh forgets it.
 */
export const meshChangedTopics = {
  of: (gatewayId: string) => `iot/mesh/${gatewayId}/changed`,
  filter: 'iot/mesh/+/changed',
  gatewayOf(topic: string): string | undefined {
    return gatewayFromTopic('iot/mesh/{gatewayId}/changed', topic);
  },
};
