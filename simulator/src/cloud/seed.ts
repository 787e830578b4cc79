import type { Scenario, ScenarioGateway } from '../scenario.ts';
import {
  keystoneId,
  stableUuid,
  type ContrailObject,
  type JsonObject,
  type KeystoneProject,
  type KubeObject,
  type NeutronNetwork,
  type NovaHypervisor,
  type NovaServer,
} from './model.ts';

/** Kubelet version the simulated nodes report. */
export const KUBELET_VERSION = 'v1.30.4';
export const ADMIN_PROJECT = 'admin';
/** The data center's underlay ("ip-fabric") where compute nodes and the control node live. */
const FABRIC_PREFIX = '192.168.10';
const AUTONOMOUS_SYSTEM = 64512;

const hypervisorNames = ['compute-1', 'compute-2', 'compute-3'];

/** VMs of the platform's control plane and services, in the admin project. */
const controlPlane: { name: string; flavor: string; vcpus: number; ram: number; disk: number }[] = [
  { name: 'contrail-controller', flavor: 'm1.xlarge', vcpus: 8, ram: 16384, disk: 160 },
  { name: 'contrail-analytics', flavor: 'm1.large', vcpus: 4, ram: 8192, disk: 80 },
  { name: 'k8s-master', flavor: 'm1.large', vcpus: 4, ram: 8192, disk: 80 },
  { name: 'graphite', flavor: 'm1.large', vcpus: 4, ram: 8192, disk: 160 },
  { name: 'influxdb', flavor: 'm1.medium', vcpus: 2, ram: 4096, disk: 80 },
  { name: 'opentsdb', flavor: 'm1.medium', vcpus: 2, ram: 4096, disk: 80 },
  { name: 'grafana', flavor: 'm1.small', vcpus: 1, ram: 2048, disk: 20 },
  { name: 'mqtt-broker', flavor: 'm1.small', vcpus: 1, ram: 2048, disk: 20 },
];

const SEED_TIME = '2016-04-25T09:00:00Z';

/** The address a gateway's node and vRouter report (gateways reach the DC over GSM/LTE/WiFi). */
export function gatewayAddress(index: number): string {
  return `172.16.${Math.floor(index / 250)}.${(index % 250) + 2}`;
}

export interface OpenStackSeed {
  projects: KeystoneProject[];
  hypervisors: NovaHypervisor[];
  servers: NovaServer[];
  networks: NeutronNetwork[];
}

export function seedOpenStack(scenario: Scenario): OpenStackSeed {
  const projects = [ADMIN_PROJECT, ...scenario.tenants].map((name): KeystoneProject => ({
    id: keystoneId('project', name),
    name,
    domain_id: 'default',
    description: name === ADMIN_PROJECT ? 'Platform operators' : `IoT tenant ${name}`,
    enabled: true,
    is_domain: false,
    parent_id: 'default',
  }));
  const hypervisors = hypervisorNames.map((hostname, i): NovaHypervisor => ({
    uuid: stableUuid('hypervisor', hostname),
    legacyId: i + 1,
    hostname,
    hostIp: `${FABRIC_PREFIX}.${11 + i}`,
    vcpus: 32,
    memoryMb: 131072,
    localGb: 1800,
  }));
  const adminId = projects[0]!.id;
  const vms = [
    ...controlPlane.map((vm) => ({ ...vm, projectId: adminId, network: 'mgmt' })),
    ...scenario.tenants.map((tenant) => ({
      name: `${tenant}-dashboard`,
      flavor: 'm1.small',
      vcpus: 1,
      ram: 2048,
      disk: 20,
      projectId: keystoneId('project', tenant),
      network: `${tenant}-net`,
    })),
  ];
  const servers = vms.map((vm, i): NovaServer => {
    const host = hypervisorNames[i % hypervisorNames.length]!;
    return {
      id: stableUuid('server', vm.name),
      name: vm.name,
      status: 'ACTIVE',
      tenant_id: vm.projectId,
      user_id: keystoneId('user', 'admin'),
      hostId: stableUuid('host', host).replaceAll('-', ''),
      created: SEED_TIME,
      updated: SEED_TIME,
      flavor: { original_name: vm.flavor, vcpus: vm.vcpus, ram: vm.ram, disk: vm.disk, ephemeral: 0, swap: 0, extra_specs: {} },
      image: { id: stableUuid('image', 'debian-8') },
      addresses: {
        [vm.network]: [
          {
            addr: `10.0.${Math.floor(i / 200)}.${(i % 200) + 10}`,
            version: 4,
            'OS-EXT-IPS:type': 'fixed',
            'OS-EXT-IPS-MAC:mac_addr': macFor(vm.name),
          },
        ],
      },
      key_name: null,
      'OS-EXT-SRV-ATTR:host': host,
      'OS-EXT-SRV-ATTR:hypervisor_hostname': host,
      'OS-EXT-SRV-ATTR:instance_name': `instance-${(i + 1).toString(16).padStart(8, '0')}`,
      'OS-EXT-AZ:availability_zone': 'nova',
      'OS-EXT-STS:vm_state': 'active',
      'OS-EXT-STS:power_state': 1,
      'OS-EXT-STS:task_state': null,
      metadata: {},
      links: [],
    };
  });
  const networks: NeutronNetwork[] = [
    network('public', adminId, { external: true, shared: true }),
    network('mgmt', adminId, {}),
    ...scenario.tenants.map((tenant) => network(`${tenant}-net`, keystoneId('project', tenant), {})),
  ];
  return { projects, hypervisors, servers, networks };
}

function network(name: string, projectId: string, options: { external?: boolean; shared?: boolean }): NeutronNetwork {
  return {
    id: stableUuid('network', name),
    name,
    status: 'ACTIVE',
    admin_state_up: true,
    subnets: [stableUuid('subnet', name)],
    project_id: projectId,
    tenant_id: projectId,
    shared: options.shared ?? false,
    'router:external': options.external ?? false,
    mtu: 1450,
    'provider:network_type': 'vxlan',
    availability_zones: ['nova'],
    created_at: SEED_TIME,
    updated_at: SEED_TIME,
    revision_number: 1,
    tags: [],
  };
}

function macFor(name: string): string {
  const hex = stableUuid('mac', name).replaceAll('-', '');
  return `fa:16:3e:${hex.slice(0, 2)}:${hex.slice(2, 4)}:${hex.slice(4, 6)}`;
}

export interface ContrailSeed {
  /** `default-project` and one per Keystone project (Contrail syncs them from Keystone). */
  projects: ContrailObject[];
  networkIpams: ContrailObject[];
  virtualNetworks: ContrailObject[];
  virtualRouters: ContrailObject[];
  bgpRouters: ContrailObject[];
  /** One per guest tenant of a shared gateway, bound to the gateway's vRouter (`guestTenants`). */
  virtualMachineInterfaces: ContrailObject[];
}

/** A tenant with nodes on a gateway it does not own: it has its own collector pod and interface there. */
export interface GuestTenant {
  gateway: ScenarioGateway;
  tenant: string;
}

/**
 * The guests of the scenario's shared gateways: each tenant of `scenario.tenants` (so onboarded:
 * namespace, network) that scenario nodes are assigned to on a gateway of another owner, once.
 */
export function guestTenants(scenario: Scenario): GuestTenant[] {
  return scenario.gateways.flatMap((gateway) =>
    [...new Set(gateway.nodes.flatMap((node) => node.tenant ?? []))]
      .filter((tenant) => tenant !== gateway.tenant && scenario.tenants.includes(tenant))
      .map((tenant) => ({ gateway, tenant })),
  );
}

/** The interface a guest's collector has on its network, bound to the gateway's vRouter (as `GatewayProvisioner.addTenant` makes it). */
function guestInterface({ gateway, tenant }: GuestTenant): ContrailObject {
  const fq = ['default-domain', tenant, `collector-${gateway.id}`];
  const network = ['default-domain', tenant, `${tenant}-iot`];
  return {
    uuid: stableUuid('vmi', tenant, gateway.id),
    fq_name: fq,
    name: fq[2]!,
    display_name: fq[2]!,
    parent_type: 'project',
    parent_uuid: stableUuid('contrail-project', tenant),
    virtual_network_refs: [{ to: network, uuid: stableUuid('vn', tenant), attr: null }],
    virtual_machine_interface_mac_addresses: { mac_address: [interfaceMac(`${tenant}|${gateway.id}`)] },
    virtual_machine_interface_bindings: { key_value_pair: [{ key: 'host_id', value: gateway.id }] },
    virtual_machine_interface_device_owner: 'iot-platform:collector',
  };
}

/** A locally administered MAC address, as Contrail gives interfaces (`02:...`). */
export function interfaceMac(seed: string): string {
  const hex = stableUuid('vmi-mac', seed).replaceAll('-', '');
  return `02:${hex.slice(0, 2)}:${hex.slice(2, 4)}:${hex.slice(4, 6)}:${hex.slice(6, 8)}:${hex.slice(8, 10)}`;
}

/** The tenant's address space: `10.<100 + n>.0.0/16`. */
function tenantIpam(tenant: string): ContrailObject {
  const fq = ['default-domain', tenant, `${tenant}-ipam`];
  return { uuid: stableUuid('ipam', tenant), fq_name: fq, name: fq[2]!, parent_type: 'project', ipam_subnet_method: 'user-defined-subnet' };
}

export function seedContrail(scenario: Scenario): ContrailSeed {
  const networkIpams: ContrailObject[] = [
    {
      uuid: stableUuid('ipam', 'default'),
      fq_name: ['default-domain', 'default-project', 'default-network-ipam'],
      name: 'default-network-ipam',
      parent_type: 'project',
      ipam_subnet_method: 'user-defined-subnet',
    },
    ...scenario.tenants.map(tenantIpam),
  ];
  const fabric: ContrailObject = {
    uuid: stableUuid('vn', 'ip-fabric'),
    fq_name: ['default-domain', 'default-project', 'ip-fabric'],
    name: 'ip-fabric',
    parent_type: 'project',
    parent_uuid: stableUuid('contrail-project', 'default-project'),
    network_ipam_refs: [ipamRef(networkIpams[0]!, `${FABRIC_PREFIX}.0`, 24)],
    route_target_list: { route_target: [] },
    virtual_network_properties: { forwarding_mode: 'l3', vxlan_network_identifier: null },
    is_shared: false,
    router_external: false,
  };
  const tenantNetworks = scenario.tenants.map((tenant, i): ContrailObject => {
    const fq = ['default-domain', tenant, `${tenant}-iot`];
    return {
      uuid: stableUuid('vn', tenant),
      fq_name: fq,
      name: fq[2]!,
      display_name: fq[2]!,
      parent_type: 'project',
      parent_uuid: stableUuid('contrail-project', tenant),
      network_ipam_refs: [ipamRef(networkIpams[i + 1]!, `10.${100 + i}.0.0`, 16)],
      route_target_list: { route_target: [`target:${AUTONOMOUS_SYSTEM}:${i + 1}`] },
      virtual_network_properties: { forwarding_mode: 'l2_l3', vxlan_network_identifier: 1000 + i },
      virtual_network_network_id: 5 + i,
      is_shared: false,
      router_external: false,
    };
  });
  const computeRouters = hypervisorNames.map((host, i) => virtualRouter(host, `${FABRIC_PREFIX}.${11 + i}`, []));
  const gatewayRouters = scenario.gateways.map((gateway, i) => {
    const ipam = networkIpams[scenario.tenants.indexOf(gateway.tenant) + 1]!;
    return virtualRouter(gateway.id, gatewayAddress(i), [
      { to: ipam.fq_name, uuid: ipam.uuid, attr: { allocation_pools: [], subnet: [] } },
    ]);
  });
  const bgp = [
    bgpRouter('contrail-controller', 'contrail', 'control-node', `${FABRIC_PREFIX}.10`),
    bgpRouter('border-router-1', 'juniper', 'router', `${FABRIC_PREFIX}.1`),
    bgpRouter('border-router-2', 'juniper', 'router', `${FABRIC_PREFIX}.2`),
  ];
  // iBGP: the control node peers with both border routers (and they with it).
  const [control, ...borders] = bgp;
  const session = { session: [{ attributes: [{ bgp_router: null, address_families: { family: ['inet-vpn', 'route-target'] } }] }] };
  control!.bgp_router_refs = borders.map((b) => ({ to: b.fq_name, uuid: b.uuid, attr: session }));
  for (const b of borders) b.bgp_router_refs = [{ to: control!.fq_name, uuid: control!.uuid, attr: session }];
  const projects = ['default-project', ADMIN_PROJECT, ...scenario.tenants].map((name): ContrailObject => ({
    uuid: stableUuid('contrail-project', name),
    fq_name: ['default-domain', name],
    name,
    display_name: name,
    parent_type: 'domain',
  }));
  return {
    projects,
    networkIpams,
    virtualNetworks: [fabric, ...tenantNetworks],
    virtualRouters: [...computeRouters, ...gatewayRouters],
    bgpRouters: bgp,
    virtualMachineInterfaces: guestTenants(scenario).map(guestInterface),
  };
}

function ipamRef(ipam: ContrailObject, prefix: string, length: number): JsonObject {
  const gateway = prefix.replace(/\.0$/, '.1');
  return {
    to: ipam.fq_name,
    uuid: ipam.uuid,
    attr: {
      ipam_subnets: [
        {
          subnet: { ip_prefix: prefix, ip_prefix_len: length },
          default_gateway: gateway,
          subnet_uuid: stableUuid('subnet', prefix),
          enable_dhcp: true,
        },
      ],
    },
  };
}

export function virtualRouter(
  host: string,
  ip: string | undefined,
  ipamRefs: JsonObject[],
  uuid = stableUuid('vrouter', host),
): ContrailObject {
  return {
    uuid,
    fq_name: ['default-global-system-config', host],
    name: host,
    display_name: host,
    parent_type: 'global-system-config',
    ...(ip ? { virtual_router_ip_address: ip } : {}),
    virtual_router_type: null,
    network_ipam_refs: ipamRefs,
  };
}

function bgpRouter(name: string, vendor: string, routerType: string, address: string): ContrailObject {
  return {
    uuid: stableUuid('bgp', name),
    fq_name: ['default-domain', 'default-project', 'ip-fabric', '__default__', name],
    name,
    parent_type: 'routing-instance',
    bgp_router_parameters: {
      vendor,
      router_type: routerType,
      autonomous_system: AUTONOMOUS_SYSTEM,
      address,
      identifier: address,
      port: 179,
      hold_time: 90,
      source_port: null,
      address_families: { family: ['route-target', 'inet-vpn', 'e-vpn', 'erm-vpn', 'inet6-vpn'] },
    },
    bgp_router_refs: [],
  };
}

/** Kubernetes objects of the scenario: nodes, namespaces, control-plane and collector pods. */
export interface KubernetesSeed {
  nodes: KubeObject[];
  namespaces: KubeObject[];
  pods: KubeObject[];
}

export function seedKubernetes(scenario: Scenario, nextVersion: () => string): KubernetesSeed {
  const meta = (name: string, labels: Record<string, string>, namespace?: string) => ({
    name,
    ...(namespace ? { namespace } : {}),
    uid: stableUuid('k8s', namespace ?? '', name),
    resourceVersion: nextVersion(),
    creationTimestamp: SEED_TIME,
    labels,
  });
  const master = kubeNode(
    meta('k8s-master', {
      'kubernetes.io/arch': 'amd64',
      'kubernetes.io/os': 'linux',
      'kubernetes.io/hostname': 'k8s-master',
      'node-role.kubernetes.io/control-plane': '',
    }),
    `${FABRIC_PREFIX}.20`,
    true,
  );
  master.spec = { podCIDR: '10.244.0.0/24', taints: [{ key: 'node-role.kubernetes.io/control-plane', effect: 'NoSchedule' }] };
  const nodes = [
    master,
    ...scenario.gateways.map((gateway, i) => kubeNode(meta(gateway.id, gatewayLabels(gateway)), gatewayAddress(i), true)),
  ];
  const namespaces = ['default', 'kube-system', ...scenario.tenants].map((name): KubeObject => ({
    apiVersion: 'v1',
    kind: 'Namespace',
    metadata: meta(name, {
      'kubernetes.io/metadata.name': name,
      ...(scenario.tenants.includes(name) ? { 'iot-platform.io/tenant': name } : {}),
    }),
    spec: { finalizers: ['kubernetes'] },
    status: { phase: 'Active' },
  }));
  const system = ['etcd', 'kube-apiserver', 'kube-controller-manager', 'kube-scheduler'].map((component) =>
    kubePod(
      meta(`${component}-k8s-master`, { component, tier: 'control-plane' }, 'kube-system'),
      'k8s-master',
      {},
      [{ name: component, image: `registry.k8s.io/${component === 'etcd' ? 'etcd:3.5.12-0' : `${component}:${KUBELET_VERSION}`}` }],
      `${FABRIC_PREFIX}.20`,
    ),
  );
  const collectors = scenario.gateways.map((gateway, i) =>
    kubePod(
      meta(
        `collector-${gateway.id}`,
        { app: 'collector', 'iot-platform.io/gateway': gateway.id, 'iot-platform.io/tenant': gateway.tenant },
        gateway.tenant,
      ),
      gateway.id,
      { 'kubernetes.io/arch': gateway.arch },
      [{ name: 'collector', image: 'iot-platform/collector:1.0' }],
      `10.244.${i + 1}.2`,
    ),
  );
  const guestsSoFar = new Map<string, number>();
  const guestCollectors = guestTenants(scenario).map(({ gateway, tenant }) => {
    const nth = (guestsSoFar.get(gateway.id) ?? 0) + 1;
    guestsSoFar.set(gateway.id, nth);
    return kubePod(
      meta(
        `collector-${gateway.id}-${tenant}`,
        { app: 'collector', 'iot-platform.io/gateway': gateway.id, 'iot-platform.io/tenant': tenant },
        tenant,
      ),
      gateway.id,
      { 'kubernetes.io/arch': gateway.arch, 'kubernetes.io/hostname': gateway.id },
      [{ name: 'collector', image: 'iot-platform/collector:1.0' }],
      `10.244.${scenario.gateways.indexOf(gateway) + 1}.${2 + nth}`,
    );
  });
  return { nodes, namespaces, pods: [...system, ...collectors, ...guestCollectors] };
}

export function gatewayLabels(gateway: Pick<ScenarioGateway, 'id' | 'tenant' | 'arch'>): Record<string, string> {
  return {
    'kubernetes.io/arch': gateway.arch,
    'kubernetes.io/os': 'linux',
    'kubernetes.io/hostname': gateway.id,
    'iot-platform.io/gateway': gateway.id,
    'iot-platform.io/tenant': gateway.tenant,
  };
}

/** A node as its kubelet reports it; `ready` false is how a freshly registered node starts. */
export function kubeNode(metadata: KubeObject['metadata'], address: string | undefined, ready: boolean): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'Node',
    metadata,
    spec: {},
    status: nodeStatus(metadata.name, metadata.labels['kubernetes.io/arch'] ?? 'amd64', address, ready),
  };
}

export function nodeStatus(name: string, arch: string, address: string | undefined, ready: boolean, now = SEED_TIME): JsonObject {
  const small = arch !== 'amd64';
  const capacity = {
    cpu: small ? '4' : '8',
    memory: small ? '944Mi' : '16318412Ki',
    pods: '110',
    'ephemeral-storage': small ? '15023184Ki' : '102687672Ki',
  };
  const condition = (type: string, status: string, reason: string, message: string) => ({
    type,
    status,
    reason,
    message,
    lastHeartbeatTime: now,
    lastTransitionTime: now,
  });
  return {
    capacity,
    allocatable: capacity,
    conditions: [
      condition('MemoryPressure', 'False', 'KubeletHasSufficientMemory', 'kubelet has sufficient memory available'),
      condition('DiskPressure', 'False', 'KubeletHasNoDiskPressure', 'kubelet has no disk pressure'),
      condition('PIDPressure', 'False', 'KubeletHasSufficientPID', 'kubelet has sufficient PID available'),
      ready
        ? condition('Ready', 'True', 'KubeletReady', 'kubelet is posting ready status')
        : condition('Ready', 'False', 'KubeletNotReady', 'container runtime network not ready: NetworkReady=false'),
    ],
    addresses: [...(address ? [{ type: 'InternalIP', address }] : []), { type: 'Hostname', address: name }],
    daemonEndpoints: { kubeletEndpoint: { Port: 10250 } },
    nodeInfo: {
      machineID: stableUuid('machine', name).replaceAll('-', ''),
      systemUUID: stableUuid('system', name),
      bootID: stableUuid('boot', name),
      kernelVersion: arch === 'arm' ? '6.1.21-v7+' : arch === 'arm64' ? '6.1.21-v8+' : '6.1.0-18-amd64',
      osImage: arch === 'amd64' ? 'Debian GNU/Linux 12 (bookworm)' : 'Raspbian GNU/Linux 12 (bookworm)',
      containerRuntimeVersion: 'docker://24.0.7',
      kubeletVersion: KUBELET_VERSION,
      kubeProxyVersion: KUBELET_VERSION,
      operatingSystem: 'linux',
      architecture: arch,
    },
  };
}

export function kubePod(
  metadata: KubeObject['metadata'],
  nodeName: string | undefined,
  nodeSelector: Record<string, string>,
  containers: { name: string; image: string }[],
  podIP: string | undefined,
  running = true,
  now = SEED_TIME,
): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata,
    spec: {
      ...(nodeName ? { nodeName } : {}),
      nodeSelector,
      containers: containers.map((c) => ({ name: c.name, image: c.image, imagePullPolicy: 'IfNotPresent', resources: {} })),
      restartPolicy: 'Always',
      schedulerName: 'default-scheduler',
    },
    status: running
      ? runningPodStatus(containers, podIP, now)
      : { phase: 'Pending', conditions: [{ type: 'PodScheduled', status: nodeName ? 'True' : 'False' }] },
  };
}

export function runningPodStatus(containers: { name: string; image: string }[], podIP: string | undefined, now: string): JsonObject {
  return {
    phase: 'Running',
    ...(podIP ? { podIP, podIPs: [{ ip: podIP }] } : {}),
    startTime: now,
    conditions: ['Initialized', 'Ready', 'ContainersReady', 'PodScheduled'].map((type) => ({
      type,
      status: 'True',
      lastTransitionTime: now,
    })),
    containerStatuses: containers.map((c) => ({
      name: c.name,
      image: c.image,
      imageID: `docker-pullable://${c.image}`,
      containerID: `docker://${stableUuid('container', c.name, now).replaceAll('-', '')}`,
      ready: true,
      started: true,
      restartCount: 0,
      state: { running: { startedAt: now } },
    })),
  };
}
