import { StartupError, type EnvReader } from '#kit';
import { ContrailClient } from './contrail.ts';
import { KubernetesClient, type KubernetesClientOptions } from './kubernetes.ts';
import { OpenStackClient, type OpenStackClientOptions } from './openstack.ts';

/** Where the real data-center systems are. */
export interface CloudOptions {
  openstack: OpenStackClientOptions;
  contrail: { url: string; keystoneAuth: boolean };
  kubernetes: KubernetesClientOptions;
}

const REQUIRED = ['OPENSTACK_AUTH_URL', 'OPENSTACK_USERNAME', 'OPENSTACK_PASSWORD', 'OPENSTACK_PROJECT', 'CONTRAIL_URL'] as const;

/**
 * The real systems named by the environment, or undefined when none is (the simulator's are used
 * then). A partial configuration is an error naming what is missing.
 */
export function cloudOptionsFromEnv(env: EnvReader): CloudOptions | undefined {
  const kubernetesUrl = env.optional('KUBERNETES_URL');
  const kubeconfig = env.optional('KUBECONFIG');
  const set = REQUIRED.filter((name) => env.optional(name) !== undefined);
  if (set.length === 0 && !kubernetesUrl && !kubeconfig) return undefined;
  const missing = [
    ...REQUIRED.filter((name) => !set.includes(name)),
    ...(kubernetesUrl || kubeconfig ? [] : ['KUBECONFIG or KUBERNETES_URL']),
  ];
  if (missing.length)
    throw new StartupError(`Real cloud systems are partly configured; also set ${missing.join(', ')} (or unset all to use the simulator)`);
  const value = (name: string) => env.optional(name) ?? '';
  return {
    openstack: {
      authUrl: value('OPENSTACK_AUTH_URL'),
      username: value('OPENSTACK_USERNAME'),
      password: value('OPENSTACK_PASSWORD'),
      projectName: value('OPENSTACK_PROJECT'),
      domainName: env.string('OPENSTACK_DOMAIN', 'Default'),
    },
    contrail: { url: value('CONTRAIL_URL'), keystoneAuth: env.bool('CONTRAIL_KEYSTONE_AUTH', false) },
    // KUBERNETES_URL wins: it is explicit, while KUBECONFIG is often set for other tools.
    kubernetes: kubernetesUrl ? { server: kubernetesUrl } : { kubeconfigPath: kubeconfig! },
  };
}

export interface CloudClients {
  openstack: OpenStackClient;
  contrail: ContrailClient;
  kubernetes: KubernetesClient;
}

/** The three clients for one set of options; Contrail uses Keystone tokens when asked to. */
export function createCloudClients(options: CloudOptions): CloudClients {
  const openstack = new OpenStackClient(options.openstack);
  return {
    openstack,
    contrail: new ContrailClient({
      url: options.contrail.url,
      ...(options.contrail.keystoneAuth ? { authToken: () => openstack.token() } : {}),
    }),
    kubernetes: new KubernetesClient(options.kubernetes),
  };
}
