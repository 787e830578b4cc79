import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ContrailClient, GatewayProvisioner, KubernetesClient, StepFailedError, UpstreamError, guestInterfaceFqName } from '#cloud';
import { silentLogger } from '#log';
import { CloudState, startCloudSimulator, type CloudSimulator } from '../../simulator/src/cloud/index.ts';
import { buildScenario } from '../../simulator/src/scenario.ts';

// The demo city: pisek-gw003 is pisek-city's; austin-summit, onboarded, becomes its guest here.
const scenario = buildScenario('demo');
const gateway = { id: 'pisek-gw003', tenant: 'pisek-city', arch: 'arm' as const };
const GUEST = 'austin-summit';

let sim: CloudSimulator;
let contrail: ContrailClient;
let kubernetes: KubernetesClient;
let provisioner: GatewayProvisioner;

beforeAll(async () => {
  sim = await startCloudSimulator({ scenario, logger: silentLogger, nodeReadyDelayMs: 50 });
  contrail = new ContrailClient({ url: sim.contrailUrl });
  kubernetes = new KubernetesClient({ server: sim.kubernetesUrl });
  provisioner = new GatewayProvisioner({ kubernetes, contrail, logger: silentLogger });
});

afterAll(async () => {
  await sim?.close();
});

const guestParts = async () => ({
  pods: (await kubernetes.listPods({ namespace: GUEST, labelSelector: `app=collector,iot-platform.io/gateway=${gateway.id}` })).map(
    (p) => p.name,
  ),
  interfaces: (await contrail.listVirtualMachineInterfaces()).filter((i) => i.hostId === gateway.id && i.project === GUEST),
});

describe('Contrail virtual machine interfaces (client and simulated config API)', () => {
  it('creates, reads, finds, lists and deletes an interface bound to a host', async () => {
    const fqName = ['default-domain', GUEST, 'probe'];
    const created = await contrail.createVirtualMachineInterface({
      fqName,
      virtualNetworkFqName: ['default-domain', GUEST, `${GUEST}-iot`],
      hostId: 'pisek-gw001',
    });
    const read = await contrail.readVirtualMachineInterface(created.uuid);
    expect(read).toMatchObject({ name: 'probe', project: GUEST, hostId: 'pisek-gw001' });
    expect(read.virtualNetworkRefs).toEqual([{ to: ['default-domain', GUEST, `${GUEST}-iot`], uuid: expect.any(String) }]);
    expect(read.macAddresses).toEqual([expect.stringMatching(/^02(:[0-9a-f]{2}){5}$/)]);
    expect(await contrail.findVirtualMachineInterface(fqName)).toEqual(read);
    expect((await contrail.listVirtualMachineInterfaces()).map((i) => i.uuid)).toContain(created.uuid);

    // Its network is referred to: Contrail refuses to delete it while the interface exists.
    const network = (await contrail.listVirtualNetworks()).find((n) => n.name === `${GUEST}-iot`)!;
    const refused = await contrail.deleteVirtualNetwork(network.uuid).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(UpstreamError);
    expect((refused as UpstreamError).status).toBe(409);

    await contrail.deleteVirtualMachineInterface(created.uuid);
    expect(await contrail.findVirtualMachineInterface(fqName)).toBeUndefined();
  });

  it('answers malformed or dangling interfaces with 400 and 404 as text, a second of one name with 409', async () => {
    const post = (body: unknown) =>
      fetch(`${sim.contrailUrl}/virtual-machine-interfaces`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
    const badName = await post({ 'virtual-machine-interface': { fq_name: ['x'], virtual_network_refs: [] } });
    expect(badName.status).toBe(400);
    expect(await badName.text()).toMatch(/fq_name must be/);
    const noNetwork = await post({
      'virtual-machine-interface': {
        fq_name: ['default-domain', GUEST, 'x'],
        virtual_network_refs: [{ to: ['default-domain', GUEST, 'nope'] }],
      },
    });
    expect(noNetwork.status).toBe(404);
    const noProject = await post({
      'virtual-machine-interface': {
        fq_name: ['default-domain', 'nobody', 'x'],
        virtual_network_refs: [{ to: ['default-domain', GUEST, `${GUEST}-iot`] }],
      },
    });
    expect(noProject.status).toBe(404);
    const body = {
      'virtual-machine-interface': {
        fq_name: ['default-domain', GUEST, 'twice'],
        virtual_network_refs: [{ to: ['default-domain', GUEST, `${GUEST}-iot`] }],
      },
    };
    expect((await post(body)).status).toBe(200);
    expect((await post(body)).status).toBe(409);
    const gone = await fetch(`${sim.contrailUrl}/virtual-machine-interface/00000000-0000-4000-8000-000000000000`, { method: 'DELETE' });
    expect(gone.status).toBe(404);
  });

  it('keeps interfaces in the state file', () => {
    const snapshot = JSON.parse(JSON.stringify(sim.state.snapshot())) as ReturnType<CloudState['snapshot']>;
    const restored = new CloudState(scenario);
    restored.restore(snapshot);
    expect(restored.virtualMachineInterfaces.map((i) => i.fq_name.join(':'))).toContain(`default-domain:${GUEST}:twice`);
    restored.close();
  });
});

describe('GatewayProvisioner: guest tenants of a shared gateway', () => {
  it("adds a guest's collector pod and interface, then removes them, leaving the owner's parts", async () => {
    const pod = await provisioner.addTenant(gateway, GUEST);
    expect(pod).toMatchObject({
      name: expect.stringMatching(/^collector-pisek-gw003-austin-summit-[a-z0-9]{5}$/),
      namespace: GUEST,
      nodeSelector: { 'kubernetes.io/arch': 'arm', 'kubernetes.io/hostname': gateway.id },
    });
    const added = await guestParts();
    expect(added.pods).toEqual([pod.name]);
    expect(added.interfaces.map((i) => i.fqName)).toEqual([guestInterfaceFqName(gateway.id, GUEST)]);

    await provisioner.removeTenant(gateway, GUEST);
    expect(await guestParts()).toEqual({ pods: [], interfaces: [] });
    expect((await kubernetes.listPods({ namespace: gateway.tenant })).map((p) => p.name)).toContain(`collector-${gateway.id}`);
    expect(await contrail.findVirtualRouter(gateway.id)).toBeDefined();
  });

  it('refuses a tenant that is not onboarded, and the owner as a guest, making nothing', async () => {
    const error = await provisioner.addTenant(gateway, 'nobody-here').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(StepFailedError);
    expect((error as StepFailedError).cause).toMatchObject({ name: 'TenantNotReadyError' });
    await expect(provisioner.addTenant(gateway, gateway.tenant)).rejects.toThrow(/owns gateway/);
    await expect(provisioner.removeTenant(gateway, gateway.tenant)).rejects.toThrow(/owns gateway/);
  });

  it('undoes the interface when the pod fails, and the pod when a later step fails', async () => {
    sim.state.injectFault({ system: 'kubernetes', method: 'POST', path: new RegExp(`^/api/v1/namespaces/${GUEST}/pods$`) });
    await expect(provisioner.addTenant(gateway, GUEST)).rejects.toThrow(/undone: creating the Contrail interface/);
    expect(await guestParts()).toEqual({ pods: [], interfaces: [] });
    const later = { name: 'recording it', run: () => Promise.reject(new Error('registry down')) };
    await expect(provisioner.addTenant(gateway, GUEST, [later])).rejects.toThrow(/recording it failed: registry down/);
    expect(await guestParts()).toEqual({ pods: [], interfaces: [] });
  });

  it("decommissioning takes every tenant's parts", async () => {
    const gw = { id: 'pisek-gw990', tenant: 'pisek-city', arch: 'arm64' as const };
    await provisioner.provision(gw);
    await provisioner.addTenant(gw, GUEST);
    await provisioner.deprovision(gw);
    expect(await kubernetes.listPods({ labelSelector: `iot-platform.io/gateway=${gw.id}` })).toEqual([]);
    expect((await contrail.listVirtualMachineInterfaces()).filter((i) => i.hostId === gw.id)).toEqual([]);
    expect(await kubernetes.readNode(gw.id)).toBeUndefined();
  });
});
