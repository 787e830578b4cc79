import { randomUUID } from 'node:crypto';
import { createClient } from 'graphql-ws';
import WebSocket from 'ws';
import {
  DecommissionGatewayDocument,
  GatewayOverviewDocument,
  RegisterGatewayDocument,
  SensorHistoryDocument,
  type GatewayOverviewQuery,
  type RegisterGatewayMutation,
  type SensorHistoryQuery,
} from '../../clients/typescript/graphql.ts';
import { credentialHeaders, graphqlHttp, type Credentials } from './graphql-http.ts';
import { liveReadings, type LiveReading } from './live-readings.ts';

export interface PartnerAppOptions {
  /** The API's GraphQL endpoint over HTTP; subscriptions use the same URL over WebSocket. */
  url: string;
  /** Id of the gateway to register: lowercase letters, digits and dashes, 3-63 characters. */
  gatewayId: string;
  /** How many live readings to take before the connection drops, and again after resuming. */
  readings: number;
  /**
   * Who the app is, sent with every request and in graphql-ws' `connectionParams`: a token whose
   * tenant owns the watched gateway and `tenant`, with `devices:read`, `devices:write`,
   * `telemetry:read` and `infra:read` (an operator's token sees every tenant).
   */
  credentials?: Credentials;
  /** The gateway to look at and follow live (default `austin-gw01`, the Austin demo mesh). */
  watch?: string;
  /** The tenant the new gateway belongs to (default `pisek-city`). */
  tenant?: string;
  /** Where the app tells what it does (default: nowhere). */
  print?: (line: string) => void;
  /**
   * Decommission the registered gateway when done (its Kubernetes node, vRouter, collector pod,
   * credentials and record go), also when a later step fails. Default false: the caller keeps it.
   */
  decommission?: boolean;
}

export interface PartnerAppReport {
  /** `GatewayOverview` of the watched gateway. */
  overview: NonNullable<GatewayOverviewQuery['gateway']>;
  /** `SensorHistory` of its first CO2 sensor over the last hour in 5 min buckets; null without one. */
  history: NonNullable<SensorHistoryQuery['sensor']> | null;
  /** The gateway `RegisterGateway` created. */
  registered: NonNullable<RegisterGatewayMutation['registerGateway']['gateway']>;
  /**
   * Every live reading received, in order: `readings` before the drop, those that were already on
   * their way when it dropped, then `readings` after resuming.
   */
  live: LiveReading[];
  /** The cursor the subscription was resumed with (`after`). */
  resumedAfter: string | undefined;
}

/**
 * A partner app in a few calls, using only the typed documents generated from
 * `schema/operations/*.graphql`: queries, a mutation, then a subscription over graphql-ws that
 * loses its connection after `readings` readings, resumes with the cursor of the last one it
 * received, and takes `readings` more.
 */
export async function runPartnerApp(options: PartnerAppOptions): Promise<PartnerAppReport> {
  const { url, gatewayId, readings, credentials, watch = 'austin-gw01', tenant = 'pisek-city', print = () => {} } = options;

  const { gateway: overview } = await graphqlHttp(url, GatewayOverviewDocument, { id: watch }, credentials);
  if (!overview) throw new Error(`no gateway ${watch}`);
  // Null (with an error) only when the gateway's daemon fails and its mesh was never observed.
  const sensors = overview.sensors ?? [];
  print(
    `${overview.name} (${overview.id}): ${overview.status}, ${overview.arch}, node ${overview.node?.name ?? '-'} ready=${overview.node?.ready ?? false}, ${sensors.length} sensors`,
  );
  for (const sensor of sensors)
    print(
      `  ${sensor.id} ${sensor.quantity} in ${sensor.room ?? '-'}: ${sensor.latest ? `${sensor.latest.value} ${sensor.unit} at ${sensor.latest.time}` : 'no reading yet'}`,
    );

  const co2 = sensors.find((sensor) => sensor.quantity === 'CO2');
  const history = co2
    ? (await graphqlHttp(url, SensorHistoryDocument, { id: co2.id, from: '-1h', every: '5min', aggregate: 'AVG' }, credentials)).sensor
    : null;
  if (history) print(`${history.id} over the last hour: ${history.readings.map((r) => r.value.toFixed(0)).join(' ') || 'nothing yet'}`);

  // Sent again with the same key (after a timeout, say), the request returns this result instead of registering twice.
  const { registerGateway } = await graphqlHttp(
    url,
    RegisterGatewayDocument,
    {
      input: {
        id: gatewayId,
        name: `Partner gateway ${gatewayId}`,
        tenant,
        arch: 'ARM64',
        location: { latitude: 49.3088, longitude: 14.1475 },
        idempotencyKey: randomUUID(),
      },
    },
    credentials,
  );
  const registered = registerGateway.gateway;
  if (!registered)
    throw new Error(`registering ${gatewayId} failed: ${registerGateway.userErrors.map((e) => `${e.code}: ${e.message}`).join('; ')}`);
  print(`registered ${registered.id} for ${registered.tenant}: ${registered.status}`);
  try {
    const { live, resumedAfter } = await followLive(url, watch, readings, credentials, print);
    return { overview, history, registered, live, resumedAfter };
  } finally {
    if (options.decommission) {
      const { decommissionGateway } = await graphqlHttp(
        url,
        DecommissionGatewayDocument,
        { input: { gatewayId: registered.id, idempotencyKey: randomUUID() } },
        credentials,
      );
      // A gateway left registered is the example's failure to report, even after an earlier one.
      if (!decommissionGateway.decommissionedGatewayId) {
        // eslint-disable-next-line no-unsafe-finally
        throw new Error(
          `decommissioning ${registered.id} failed: ${decommissionGateway.userErrors.map((e) => `${e.code}: ${e.message}`).join('; ')}`,
        );
      }
      print(`decommissioned ${registered.id}`);
    }
  }
}

/** Takes `readings` live readings of the watched gateway, drops the connection, resumes with the last cursor and takes `readings` more. */
async function followLive(
  url: string,
  watch: string,
  readings: number,
  credentials: Credentials | undefined,
  print: (line: string) => void,
): Promise<Pick<PartnerAppReport, 'live' | 'resumedAfter'>> {
  // graphql-ws' own retry, with its defaults, reconnects after a drop, a slow-consumer or an
  // expired-token close; `connectionParams` is read again on each connection, so a token
  // refreshed in `credentials` meanwhile is the one sent.
  // shouldRetry for every failure: a router that dies outright gives a socket error, not a close code.
  const client = createClient({
    url: url.replace(/^http/, 'ws'),
    webSocketImpl: WebSocket,
    lazy: true,
    shouldRetry: () => true,
    connectionParams: () => credentialHeaders(credentials),
  });
  const live: LiveReading[] = [];
  let resumedAfter: string | undefined;
  let sinceResume = 0;
  try {
    const stream = liveReadings(
      client,
      { gatewayId: watch },
      {
        onResume: (after, reason) => {
          resumedAfter = after;
          print(`reconnected (${reason}): resuming after ${after}`);
        },
      },
    );
    for await (const reading of stream) {
      live.push(reading);
      print(
        `  ${reading.time} ${reading.sensor.id} ${reading.sensor.quantity} = ${reading.value} ${reading.sensor.unit}  [${reading.cursor}]`,
      );
      if (live.length === readings) {
        print('dropping the connection');
        client.terminate(); // as a network change would
      }
      if (resumedAfter !== undefined && ++sinceResume === readings) break;
    }
  } finally {
    await client.dispose();
  }
  return { live, resumedAfter };
}
