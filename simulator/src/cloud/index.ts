import type { Logger } from '#log';
import type { Scenario } from '../scenario.ts';
import { contrailHandler } from './contrail.ts';
import { listen, sendJson, type Handler, type LoopbackServer } from './http.ts';
import { kubernetesHandler } from './kubernetes.ts';
import { OPENSTACK_PREFIX, openStackHandler } from './openstack.ts';
import { CloudState, type CloudSnapshot, type CloudStateOptions, type Fault } from './state.ts';

export {
  CloudState,
  defaultCloudCredentials,
  type CloudCredentials,
  type CloudSnapshot,
  type CloudStateEvents,
  type CloudStateOptions,
  type Fault,
} from './state.ts';

export interface CloudSimulatorOptions extends CloudStateOptions {
  scenario: Scenario;
  logger: Logger;
  /** Default 127.0.0.1. */
  host?: string;
  /** The host name clients use (in URLs and Keystone's catalog). Default `host`. */
  advertisedHost?: string;
  /** Fixed ports; free ones when absent. */
  ports?: { openstack?: number; contrail?: number; kubernetes?: number };
  /** The data center as it was (the simulator's state file) instead of the scenario's. */
  restore?: CloudSnapshot;
  /** Called after anything may have changed: a request other than GET, a Kubernetes object changing. */
  onChange?: () => void;
}

export interface CloudSimulator {
  /** Keystone v3, e.g. `http://127.0.0.1:PORT/identity/v3`; its catalog points at Nova and Neutron. */
  openstackAuthUrl: string;
  /** The Contrail config API root. */
  contrailUrl: string;
  /** The Kubernetes API server root. */
  kubernetesUrl: string;
  state: CloudState;
  close(): Promise<void>;
}

/**
 * Serves simulated OpenStack (devstack layout), Contrail config API and Kubernetes API servers
 * on free loopback ports, all over one `CloudState` built from the scenario.
 */
export async function startCloudSimulator(options: CloudSimulatorOptions): Promise<CloudSimulator> {
  const { logger, host = '127.0.0.1' } = options;
  const state = new CloudState(options.scenario, options);
  if (options.restore) state.restore(options.restore);
  const { onChange } = options;
  if (onChange) state.on('kube', () => onChange());
  let openstackBase = '';
  let contrailBase = '';
  const servers: LoopbackServer[] = [];
  try {
    const openstack = await listen(
      'openstack',
      host,
      logger,
      faulty(
        state,
        'openstack',
        openStackHandler(state, () => openstackBase),
        onChange,
      ),
      options.ports?.openstack,
      options.advertisedHost,
    );
    servers.push(openstack);
    openstackBase = openstack.url;
    const contrail = await listen(
      'contrail',
      host,
      logger,
      faulty(
        state,
        'contrail',
        contrailHandler(state, () => contrailBase),
        onChange,
      ),
      options.ports?.contrail,
      options.advertisedHost,
    );
    servers.push(contrail);
    contrailBase = contrail.url;
    const kubernetes = await listen(
      'kubernetes',
      host,
      logger,
      faulty(state, 'kubernetes', kubernetesHandler(state), onChange),
      options.ports?.kubernetes,
      options.advertisedHost,
    );
    servers.push(kubernetes);
    const simulator: CloudSimulator = {
      openstackAuthUrl: `${openstack.url}${OPENSTACK_PREFIX.identity}/v3`,
      contrailUrl: contrail.url,
      kubernetesUrl: kubernetes.url,
      state,
      async close() {
        state.close();
        await Promise.all(servers.map((s) => s.close()));
      },
    };
    logger.info({ openstack: simulator.openstackAuthUrl, contrail: contrail.url, kubernetes: kubernetes.url }, 'cloud simulator ready');
    return simulator;
  } catch (error) {
    state.close();
    await Promise.all(servers.map((s) => s.close()));
    throw error;
  }
}

/**
 * Answers a request with the fault injected for it (`CloudState.injectFault`), if any, or holds
 * it first (`Fault.hold`); tells `onChange` when a request that may have changed something is answered.
 */
function faulty(state: CloudState, system: Fault['system'], handler: Handler, onChange?: () => void): Handler {
  return async (req, res, url) => {
    const fault = state.takeFault(system, req.method ?? 'GET', url.pathname);
    if (onChange && req.method !== 'GET' && req.method !== 'HEAD') res.once('finish', onChange);
    if (fault?.hold) await fault.hold().catch(() => undefined);
    if (!fault || fault.hold) return handler(req, res, url);
    sendJson(res, fault.status ?? 500, { message: fault.message ?? `injected ${system} fault` });
  };
}
