/** A gateway's daemon is not asked now (offline, or its breaker open), and nothing is known of its mesh. */
export class GatewayUnavailableError extends Error {
  constructor(
    readonly gatewayId: string,
    readonly retryAt: number | undefined,
    lastHeard: number | undefined,
  ) {
    super(
      `the IQRF daemon of gateway "${gatewayId}" is not answering` +
        (lastHeard === undefined ? '' : ` (last heard ${new Date(lastHeard).toISOString()})`) +
        (retryAt === undefined ? '' : `; it is asked again from ${new Date(retryAt).toISOString()}`) +
        ', and nothing is known of its mesh yet',
    );
    this.name = 'GatewayUnavailableError';
  }
}
