import type { MqttClient } from 'mqtt';
import { GatewayLabel, type CloudOptions } from '#cloud';
import type { Logger } from '#log';
import type { GatewayRecord } from '#registry';
import { defaultCloudCredentials, startCloudSimulator, type CloudSimulator } from './cloud/index.ts';
import type { TimeSeriesStore } from '#telemetry';
import { backfillHistory, type BackfillResult } from './backfill.ts';
import { bondedNodeSensors, IqrfDaemonSimulator, type DaemonCredentials } from './iqrf-daemon.ts';
import type { Arch, Scenario } from './scenario.ts';
import { SimulatorStateFile } from './state-file.ts';

export { buildScenario, scenarioNames, type Scenario, type ScenarioGateway, type ScenarioNode, type GeoPoint } from './scenario.ts';
export { scenarioRegistry, scenarioOpenData } from './seed.ts';
export { IqrfDaemonSimulator, type DaemonCredentials } from './iqrf-daemon.ts';
export { startCloudSimulator, defaultCloudCredentials, type CloudSimulator } from './cloud/index.ts';
export { SimulatorStateFile, type SimulatorSnapshot } from './state-file.ts';
export { backfillHistory, type BackfillGateway, type BackfillOptions, type BackfillResult } from './backfill.ts';

/** The simulated city's wiring: `npm run simulator` and the all-in-one start both pass one. */
export interface SimulatorConfig {
  scenario: Scenario;
  /**
   * How each simulated IQRF daemon connects, with the credentials it is given
   * (`simulator.iqrf.setCredentials`), as a real gateway.
   */
  connect: (credentials: DaemonCredentials) => MqttClient;
  /**
   * Credentials for a gateway that boots without any (run alone, the simulator issues them
   * itself); within the platform they are handed over as registrations issue them.
   */
  issueCredentials?: (gatewayId: string) => Promise<DaemonCredentials>;
  logger: Logger;
  /** Share of FRC answers where a node gives nothing. Default 0. */
  lossRate?: number;
  /** How long a new gateway's kubelet takes to report Ready. */
  nodeReadyDelayMs?: number;
  /** Where the data-center APIs listen (default 127.0.0.1, free ports) and the host name clients use. */
  host?: string;
  advertisedHost?: string;
  ports?: { openstack?: number; contrail?: number; kubernetes?: number };
  /**
   * Where the simulated city keeps its state across restarts (`SimulatorStateFile`): the meshes
   * its coordinators bonded and its data center's objects. Nothing is kept when absent.
   */
  stateFile?: string;
}

export interface Simulator {
  iqrf: IqrfDaemonSimulator;
  cloud: CloudSimulator;
  /**
   * Boots the daemons of registered gateways it does not run (registered before the state file
   * existed, or with the file deleted), each with the nodes the registry names as standard
   * environment sensors. Gives the ids of those whose Kubernetes node the data center lacks:
   * provision them again.
   */
  restoreRegistered(records: readonly GatewayRecord[]): string[];
  /**
   * Writes `windowMs` of plausible history before `until` for every sensor of the registered
   * gateways it runs, under their tenants, never over a reading the store has (`backfillHistory`).
   */
  backfillHistory(options: {
    store: TimeSeriesStore;
    gateways: readonly GatewayRecord[];
    windowMs: number;
    until: number;
    stepMs?: number;
    signal?: AbortSignal;
  }): Promise<BackfillResult>;
  close(): Promise<void>;
}

/**
 * The simulated city: an IQRF daemon per gateway over MQTT and the data center's OpenStack,
 * Contrail and Kubernetes APIs on loopback. A gateway whose Kubernetes node is created through
 * the API boots once the node is Ready: from then on its daemon answers (with an empty mesh).
 */
export async function wireSimulator(options: SimulatorConfig): Promise<Simulator> {
  const { scenario, logger } = options;
  const saved = options.stateFile ? await SimulatorStateFile.read(options.stateFile, scenario, logger) : undefined;
  let stateFile: SimulatorStateFile | undefined;
  const changed = () => stateFile?.changed();
  const iqrf = new IqrfDaemonSimulator({ connect: options.connect, scenario, logger, lossRate: options.lossRate, onChange: changed });
  for (const gateway of saved?.gateways ?? []) iqrf.restoreGateway(gateway);
  if (saved) logger.info({ path: options.stateFile, gateways: saved.gateways.length, savedAt: saved.savedAt }, 'simulated city restored');
  await iqrf.start();
  const { issueCredentials } = options;
  const install = (gatewayId: string) => {
    if (!issueCredentials || iqrf.hasCredentials(gatewayId)) return;
    issueCredentials(gatewayId).then(
      (credentials) => iqrf.setCredentials(gatewayId, credentials),
      (error: Error) => logger.warn({ gatewayId, err: error.message }, 'cannot issue MQTT credentials to a simulated gateway'),
    );
  };
  for (const gateway of [...scenario.gateways, ...(saved?.gateways ?? [])]) install(gateway.id);
  const cloud = await startCloudSimulator({
    scenario,
    logger,
    nodeReadyDelayMs: options.nodeReadyDelayMs,
    host: options.host,
    advertisedHost: options.advertisedHost,
    ports: options.ports,
    restore: saved?.cloud,
    onChange: changed,
  });
  if (options.stateFile) {
    stateFile = new SimulatorStateFile(options.stateFile, logger, () => ({
      version: 1,
      scenario: scenario.name,
      seed: scenario.seed,
      savedAt: new Date().toISOString(),
      gateways: iqrf.changedGateways(),
      cloud: cloud.state.snapshot(),
    }));
  }
  const booting = new Map<string, Record<string, string>>();
  cloud.state.on('nodeAdded', (name, labels) => {
    if (labels[GatewayLabel.GATEWAY] === name) booting.set(name, labels);
  });
  cloud.state.on('nodeReady', (name) => {
    const labels = booting.get(name);
    if (!labels) return;
    booting.delete(name);
    iqrf.addGateway({
      id: name,
      name,
      tenant: labels[GatewayLabel.TENANT] ?? 'unknown',
      arch: (labels[GatewayLabel.ARCH] ?? 'amd64') as Arch,
      location: { lat: 0, lon: 0, address: '' },
      nodes: [],
    });
    install(name);
    logger.info({ gatewayId: name }, 'simulated gateway booted');
  });
  cloud.state.on('nodeDeleted', (name) => {
    booting.delete(name);
    iqrf.removeGateway(name);
  });
  return {
    iqrf,
    cloud,
    restoreRegistered(records) {
      const unprovisioned: string[] = [];
      for (const record of records) {
        if (record.status === 'DECOMMISSIONED') continue;
        if (!iqrf.hasGateway(record.id)) {
          iqrf.restoreGateway({
            id: record.id,
            name: record.name,
            tenant: record.tenant,
            arch: record.arch.toLowerCase() as Arch,
            location: { lat: record.location.lat, lon: record.location.lon, address: record.location.address ?? '' },
            nodes: Object.entries(record.nodes).map(([address, meta]) => ({
              address: Number(address),
              mid: Number(address).toString(16).padStart(8, '0'),
              parent: 0,
              role: 'SENSOR',
              name: meta.name ?? `node-${address}`,
              ...(meta.room ? { room: meta.room } : {}),
              sensors: bondedNodeSensors,
            })),
          });
          install(record.id);
          logger.info({ gatewayId: record.id }, 'simulated gateway restored from the registry');
        }
        if (!cloud.state.nodes.has(record.id)) unprovisioned.push(record.id);
      }
      return unprovisioned;
    },
    backfillHistory({ gateways, ...rest }) {
      return backfillHistory({
        ...rest,
        gateways: gateways
          .filter((g) => g.status !== 'DECOMMISSIONED')
          .flatMap((g) => {
            const nodes = iqrf.meshOf(g.id);
            return nodes ? [{ id: g.id, tenant: g.tenant, nodes }] : [];
          }),
        capacities: new Map(scenario.parkingLots.map((lot) => [`${lot.gatewayId}:${lot.counterAddress}`, lot.capacity])),
        seed: scenario.seed,
        logger,
      });
    },
    async close() {
      iqrf.stop();
      await stateFile?.flush();
      await cloud.close();
    },
  };
}

/** Client options that point the platform's real clients at the simulated data center. */
export function simulatedCloudOptions(cloud: CloudSimulator): CloudOptions {
  return {
    openstack: { authUrl: cloud.openstackAuthUrl, ...defaultCloudCredentials },
    contrail: { url: cloud.contrailUrl, keystoneAuth: false },
    kubernetes: { server: cloud.kubernetesUrl },
  };
}
