/** Labels the platform puts on a gateway's Kubernetes node; selectors and the simulator rely on them. */
export const GatewayLabel = {
  /** The gateway id. */
  GATEWAY: 'iot-platform.io/gateway',
  /** The tenant that owns the gateway. */
  TENANT: 'iot-platform.io/tenant',
  ARCH: 'kubernetes.io/arch',
  OS: 'kubernetes.io/os',
  HOSTNAME: 'kubernetes.io/hostname',
} as const;

/** The labels of a gateway's node. */
export function gatewayNodeLabels(gateway: { id: string; tenant: string; arch: string }): Record<string, string> {
  return {
    [GatewayLabel.ARCH]: gateway.arch,
    [GatewayLabel.OS]: 'linux',
    [GatewayLabel.HOSTNAME]: gateway.id,
    [GatewayLabel.GATEWAY]: gateway.id,
    [GatewayLabel.TENANT]: gateway.tenant,
  };
}

/** A label value as Kubernetes accepts it: 63 characters at most, alphanumerics with `-_.` inside. */
export function isLabelValue(value: string): boolean {
  return value.length <= 63 && /^(?:[A-Za-z0-9](?:[-A-Za-z0-9_.]*[A-Za-z0-9])?)?$/.test(value);
}

/** `key in (a,b,c)`; every value must pass `isLabelValue`. */
export function labelSelectorIn(key: string, values: readonly string[]): string {
  for (const value of values) if (!isLabelValue(value)) throw new Error(`"${value}" cannot be a Kubernetes label value`);
  return `${key} in (${values.join(',')})`;
}
