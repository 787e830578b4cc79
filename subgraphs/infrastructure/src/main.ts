import { ContrailClient, KubernetesClient, OpenStackClient } from '#cloud';
import { envConfig, type EnvReader } from '#kit';
import { createLogger, type Logger } from '#log';
import { startInfrastructureSubgraph } from './index.ts';
import type { InfrastructureSources } from './context.ts';

interface CloudConfig {
  openstack: { authUrl: string; username: string; password: string; projectName: string; domainName: string };
  contrail: { url: string; keystoneAuth: boolean };
  kubernetes: { kubeconfigPath: string } | { server: string };
}

const CLOUD_VARS = ['OPENSTACK_AUTH_URL', 'OPENSTACK_USERNAME', 'OPENSTACK_PASSWORD', 'OPENSTACK_PROJECT', 'CONTRAIL_URL'] as const;

/** The real systems from the environment, or undefined when none is configured (embedded simulator). */
function readCloudConfig(env: EnvReader): CloudConfig | undefined {
  const kubernetesUrl = env.optional('KUBERNETES_URL');
  const kubeconfig = env.optional('KUBECONFIG');
  const set = CLOUD_VARS.filter((name) => env.optional(name) !== undefined);
  if (set.length === 0 && !kubernetesUrl && !kubeconfig) return undefined;
  const missing = [...CLOUD_VARS.filter((name) => !set.includes(name)), ...(kubernetesUrl || kubeconfig ? [] : ['KUBECONFIG or KUBERNETES_URL'])];
  if (missing.length) throw new Error(`Real cloud systems are partly configured; also set ${missing.join(', ')} (or unset all to use the embedded simulator)`);
  const required = (name: string) => env.optional(name) ?? '';
  return {
    openstack: {
      authUrl: required('OPENSTACK_AUTH_URL'),
      username: required('OPENSTACK_USERNAME'),
      password: required('OPENSTACK_PASSWORD'),
      projectName: required('OPENSTACK_PROJECT'),
      domainName: env.string('OPENSTACK_DOMAIN', 'Default'),
    },
    contrail: { url: required('CONTRAIL_URL'), keystoneAuth: env.bool('CONTRAIL_KEYSTONE_AUTH', false) },
    // KUBERNETES_URL wins: it is explicit, while KUBECONFIG is often set for other tools.
    kubernetes: kubernetesUrl ? { server: kubernetesUrl } : { kubeconfigPath: kubeconfig! },
  };
}

async function embeddedSimulator(env: EnvReader, logger: Logger): Promise<{ config: CloudConfig; close: () => Promise<void> }> {
  const { startCloudSimulator, defaultCloudCredentials } = await import('../../../simulator/src/cloud/index.ts');
  const { buildScenario } = await import('../../../simulator/src/scenario.ts');
  const scenario = env.string('SCENARIO', 'demo');
  if (scenario !== 'demo' && scenario !== 'pisek') throw new Error(`SCENARIO must be demo or pisek, got "${scenario}"`);
  const simulator = await startCloudSimulator({ scenario: buildScenario(scenario), logger: logger.child({ component: 'cloud-simulator' }) });
  logger.warn('OPENSTACK_AUTH_URL, CONTRAIL_URL and KUBECONFIG/KUBERNETES_URL are not set: serving the embedded cloud simulator');
  const c = defaultCloudCredentials;
  return {
    config: {
      openstack: { authUrl: simulator.openstackAuthUrl, username: c.username, password: c.password, projectName: c.projectName, domainName: c.domainName },
      contrail: { url: simulator.contrailUrl, keystoneAuth: false },
      kubernetes: { server: simulator.kubernetesUrl },
    },
    close: () => simulator.close(),
  };
}

async function main(): Promise<void> {
  const env = envConfig();
  const logger = createLogger('infrastructure', env.string('LOG_LEVEL', 'info'));
  const port = env.int('PORT', 4003);
  const host = env.string('HOST', '127.0.0.1');
  const exposeInternalErrors = env.bool('EXPOSE_INTERNAL_ERRORS', false);
  const configured = readCloudConfig(env);
  const embedded = configured ? undefined : await embeddedSimulator(env, logger);
  const config = configured ?? embedded!.config;

  const openstack = new OpenStackClient(config.openstack);
  const sources: InfrastructureSources = {
    openstack,
    contrail: new ContrailClient({ url: config.contrail.url, ...(config.contrail.keystoneAuth ? { authToken: () => openstack.token() } : {}) }),
    kubernetes: new KubernetesClient(config.kubernetes),
  };
  const subgraph = await startInfrastructureSubgraph({ port, host, logger, sources, exposeInternalErrors });

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'shutting down');
    try {
      await subgraph.close();
      await embedded?.close();
      process.exit(0);
    } catch (error) {
      logger.error({ err: error }, 'shutdown failed');
      process.exit(1);
    }
  };
  process.once('SIGINT', () => void stop('SIGINT'));
  process.once('SIGTERM', () => void stop('SIGTERM'));
}

main().catch((error: unknown) => {
  createLogger('infrastructure').fatal({ err: error }, 'infrastructure subgraph failed to start');
  process.exit(1);
});
