import { StartupError, type ServiceToReach } from '#kit';
import type { CloudOptions } from './config.ts';

/** Keystone, Contrail and the Kubernetes API server (KUBERNETES_URL, or the current cluster of KUBECONFIG), as services to reach at start. */
export async function cloudServices(cloud: CloudOptions): Promise<ServiceToReach[]> {
  const kubernetes =
    'server' in cloud.kubernetes
      ? { variable: 'KUBERNETES_URL', url: cloud.kubernetes.server }
      : { variable: 'KUBECONFIG', url: await kubeconfigServer(cloud.kubernetes.kubeconfigPath) };
  return [
    { variable: 'OPENSTACK_AUTH_URL', what: 'Keystone', url: cloud.openstack.authUrl },
    { variable: 'CONTRAIL_URL', what: 'the Contrail API', url: cloud.contrail.url },
    { ...kubernetes, what: 'the Kubernetes API server' },
  ];
}

/** The server of a kubeconfig's current cluster. */
async function kubeconfigServer(path: string): Promise<string> {
  const { KubeConfig } = await import('@kubernetes/client-node');
  const config = new KubeConfig();
  try {
    config.loadFromFile(path);
  } catch (error) {
    throw new StartupError(
      `KUBECONFIG=${path}: cannot be read (${(error as NodeJS.ErrnoException).code ?? (error as Error).message}); set KUBECONFIG to a kubeconfig file, or KUBERNETES_URL`,
    );
  }
  const server = config.getCurrentCluster()?.server;
  if (!server) throw new StartupError(`KUBECONFIG=${path}: names no current cluster; set its current-context, or KUBERNETES_URL`);
  return server;
}
