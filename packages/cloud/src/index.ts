export {
  OpenStackClient,
  NOVA_MICROVERSION,
  type OpenStackClientOptions,
  type OpenStackProject,
  type OpenStackServer,
  type OpenStackServerAddress,
  type OpenStackHypervisor,
  type OpenStackNetwork,
} from './openstack.ts';
export {
  ContrailClient,
  isContrailConflict,
  type ContrailClientOptions,
  type ContrailRef,
  type ContrailVirtualNetwork,
  type ContrailVirtualRouter,
  type ContrailVirtualMachineInterface,
  type CreateVirtualMachineInterfaceInput,
  type ContrailBgpRouter,
  type ContrailProject,
  type CreateProjectInput,
  type CreateVirtualNetworkInput,
  type CreateVirtualRouterInput,
} from './contrail.ts';
export {
  KubernetesClient,
  type KubernetesClientOptions,
  type KubeNode,
  type KubeNodeAddress,
  type KubePod,
  type KubeNamespace,
  type CreateNodeInput,
  type CreatePodInput,
} from './kubernetes.ts';
export {
  GatewayProvisioner,
  TenantNotReadyError,
  tenantVirtualNetwork,
  guestInterfaceFqName,
  type CollectorPod,
  type GatewayProvisionerOptions,
  type GatewayToProvision,
} from './provisioner.ts';
export {
  TenantOnboarder,
  TenantExistsError,
  TenantInputError,
  tenantIdProblem,
  type OnboardedTenant,
  type TenantOnboarderOptions,
  type TenantToOnboard,
} from './onboarder.ts';
export { runSteps, StepFailedError, type Step } from './steps.ts';
export { GatewayLabel, gatewayNodeLabels, isLabelValue, labelSelectorIn } from './labels.ts';
export { UpstreamError, type SystemName } from './http.ts';
export { ValidationError } from './validate.ts';
export { cloudOptionsFromEnv, createCloudClients, type CloudOptions, type CloudClients } from './config.ts';
export { cloudServices } from './cloud-services.ts';
