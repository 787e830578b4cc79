import { nodeTenant, parseSensorId, type GatewayRecord } from '#registry';

/**
 * The sensors a catalogue publishes, each with its publishing tenant: a set of sensor ids (what
 * `has` asks) that also says who published each. A catalogue that names no tenant for a sensor
 * (written before gateways were shared) lets its gateway's owner publish it.
 */
export class PublishedSensors extends Set<string> {
  readonly #publishers = new Map<string, string | undefined>();

  constructor(entries: Iterable<readonly [sensorId: string, publisher: string | undefined]> = []) {
    super();
    for (const [sensorId, publisher] of entries) {
      this.add(sensorId);
      // The first word stands: the validator refuses a catalogue that names two publishers.
      if (!this.#publishers.has(sensorId)) this.#publishers.set(sensorId, publisher);
    }
  }

  /** The tenant that publishes `sensorId`; undefined when its gateway's owner does (or it is not published). */
  publisherOf(sensorId: string): string | undefined {
    return this.#publishers.get(sensorId);
  }
}

/**
 * Whether `sensorId` is published now: listed, and its node belongs to its publisher today. "Open
 * data publishes only what its owner published": a sensor whose node was assigned to another
 * tenant (a shared gateway: `assignNodes`) is that tenant's, closed, until it publishes it. Any
 * set of ids is accepted (a plain `Set` lets each gateway's owner publish its nodes' sensors).
 */
export function isPublishedNow(
  published: ReadonlySet<string>,
  sensorId: string,
  gateway: Pick<GatewayRecord, 'tenant' | 'nodes'>,
): boolean {
  if (!published.has(sensorId)) return false;
  const parsed = parseSensorId(sensorId);
  if (!parsed) return false;
  const publisher = (published instanceof PublishedSensors ? published.publisherOf(sensorId) : undefined) ?? gateway.tenant;
  return nodeTenant(gateway, parsed.address) === publisher;
}

/**
 * The published sensors whose node is another tenant's than their publisher's, with why (to log at
 * start: they publish nothing until the catalogue or the assignment is put right).
 */
export function foreignPublishedSensors(
  published: PublishedSensors,
  gateways: ReadonlyMap<string, Pick<GatewayRecord, 'tenant' | 'nodes'>>,
): Array<{ sensorId: string; publisher: string; nodeTenant: string }> {
  return [...published].flatMap((sensorId) => {
    const parsed = parseSensorId(sensorId);
    const gateway = parsed && gateways.get(parsed.gatewayId);
    if (!parsed || !gateway || isPublishedNow(published, sensorId, gateway)) return [];
    return [{ sensorId, publisher: published.publisherOf(sensorId) ?? gateway.tenant, nodeTenant: nodeTenant(gateway, parsed.address) }];
  });
}
