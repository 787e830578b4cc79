import { createHash } from 'node:crypto';

/** JSON as the simulated APIs store and serve it. */
export type Json = string | number | boolean | null | Json[] | { [key: string]: Json };
export type JsonObject = { [key: string]: Json };

export interface KubeMeta extends JsonObject {
  name: string;
  uid: string;
  resourceVersion: string;
  creationTimestamp: string;
  labels: Record<string, string>;
}

/** A Kubernetes object (Node, Pod, Namespace) as the API server serves it. */
export interface KubeObject extends JsonObject {
  apiVersion: 'v1';
  kind: string;
  metadata: KubeMeta;
}

export interface KeystoneProject extends JsonObject {
  id: string;
  name: string;
  domain_id: string;
  description: string;
  enabled: boolean;
  is_domain: boolean;
  parent_id: string;
}

export interface NovaServer extends JsonObject {
  id: string;
  name: string;
  tenant_id: string;
  'OS-EXT-SRV-ATTR:hypervisor_hostname': string;
}

export interface NovaHypervisor {
  uuid: string;
  legacyId: number;
  hostname: string;
  hostIp: string;
  vcpus: number;
  memoryMb: number;
  localGb: number;
}

export interface NeutronNetwork extends JsonObject {
  id: string;
  name: string;
  project_id: string;
}

/** A Contrail config object: `uuid` and `fq_name` plus its properties and refs. */
export interface ContrailObject extends JsonObject {
  uuid: string;
  fq_name: string[];
  parent_type: string;
  name: string;
}

/** A stable UUID derived from a name, so the same scenario always has the same ids. */
export function stableUuid(...parts: string[]): string {
  const hex = createHash('sha1').update(parts.join('\u0000')).digest('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-5${hex.slice(13, 16)}-a${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
}

/** Keystone ids are 32 hex digits without dashes. */
export function keystoneId(...parts: string[]): string {
  return stableUuid('keystone', ...parts).replaceAll('-', '');
}

export function labelsOf(object: KubeObject): Record<string, string> {
  return object.metadata.labels;
}
