import type { MqttClient } from 'mqtt';
import { GatewayLabel, type CloudOptions } from '#cloud';
import type { Logger } from '#log';
import { defaultCloudCredentials, startCloudSimulator, type CloudSimulator } from './cloud/index.ts';
import { IqrfDaemonSimulator, type DaemonCredentials } from './iqrf-daemon.ts';
import type { Arch, Scenario } from './scenario.ts';

export { buildScenario, scenarioNames, type Scenario, type ScenarioGateway, type ScenarioNode, type GeoPoint } from './scenario.ts';
export { scenarioRegistry, scenarioOpenData } from './seed.ts';
export { IqrfDaemonSimulator, type DaemonCredentials } from './iqrf-daemon.ts';
export { startCloudSimulator, defaultCloudCredentials, type CloudSimulator } from './cloud/index.ts';

export interface SimulatorOptions {
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
}

export interface Simulator {
  iqrf: IqrfDaemonSimulator;
  cloud: CloudSimulator;
  close(): Promise<void>;
}

/**
 * The simulated city: an IQRF daemon per gateway over MQTT and the data center's OpenStack,
 * Contrail and Kubernetes APIs on loopback. A gateway whose Kubernetes node is created through
 * the API boots once the node is Ready: from then on its daemon answers (with an empty mesh).
 */
export async function startSimulator(options: SimulatorOptions): Promise<Simulator> {
  const { scenario, logger } = options;
  const iqrf = new IqrfDaemonSimulator({ connect: options.connect, scenario, logger, lossRate: options.lossRate });
  await iqrf.start();
  const { issueCredentials } = options;
  const install = (gatewayId: string) => {
    if (!issueCredentials || iqrf.hasCredentials(gatewayId)) return;
    issueCredentials(gatewayId).then(
      (credentials) => iqrf.setCredentials(gatewayId, credentials),
      (error: Error) => logger.warn({ gatewayId, err: error.message }, 'cannot issue MQTT credentials to a simulated gateway'),
    );
  };
  for (const gateway of scenario.gateways) install(gateway.id);
  const cloud = await startCloudSimulator({ scenario, logger, nodeReadyDelayMs: options.nodeReadyDelayMs, host: options.host, advertisedHost: options.advertisedHost, ports: options.ports });
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
    async close() {
      iqrf.stop();
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
