import { GatewayLabel } from '#cloud';
import type { CpuArch, PodPhase, Resolvers } from '../__generated__/resolvers.ts';

const archs: Record<string, CpuArch> = { amd64: 'AMD64', arm: 'ARM', arm64: 'ARM64' };
const phases: Record<string, PodPhase> = { Pending: 'PENDING', Running: 'RUNNING', Succeeded: 'SUCCEEDED', Failed: 'FAILED' };

export const kubernetesResolvers: Resolvers = {
  KubernetesNode: {
    arch: (node) => (node.arch ? (archs[node.arch] ?? null) : null),
    labels: (node) => Object.entries(node.labels).map(([name, value]) => ({ name, value })),
    gateway: (node) => {
      const id = node.labels[GatewayLabel.GATEWAY];
      return id ? { id } : null;
    },
  },
  Pod: {
    phase: (pod) => (pod.phase ? (phases[pod.phase] ?? 'UNKNOWN') : 'UNKNOWN'),
  },
  KubernetesNamespace: {
    tenant: (ns) => ns.labels[GatewayLabel.TENANT] ?? null,
  },
};
