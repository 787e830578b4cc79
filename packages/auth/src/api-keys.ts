import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { Scope, type Caller } from './caller.ts';

/**
 * A partner's API key: open data, and commanding the actuators a tenant granted it. The key
 * itself (`iotk_<id>_<secret>`) is shown once; the platform keeps only the SHA-256 of its secret.
 * Each key has its own quota.
 */
export interface ApiKeyRecord {
  id: string;
  /** Who it was issued to. */
  name: string;
  /** Hex SHA-256 of the key's secret part. */
  sha256: string;
  /** Requests a minute this key may make. */
  requestsPerMinute: number;
  /**
   * What it may do beyond open data: only `apiKeyScopes` (`actuators:write`, and with a grant of a
   * tenant only). Absent: open data only.
   */
  scopes?: Scope[];
}

/**
 * The scopes an API key may carry. A key belongs to no tenant: it never reads a tenant's devices
 * or private telemetry, whatever it is given; `actuators:write` lets it command what tenants
 * grant it (`grantActuatorAccess`), nothing else.
 */
export const apiKeyScopes: readonly Scope[] = [Scope.OPENDATA_READ, Scope.ACTUATORS_WRITE];

const KEY = /^iotk_([a-z0-9-]{3,40})_([A-Za-z0-9_-]{20,})$/;

export class ApiKeyError extends Error {}

export class ApiKeys {
  readonly #records: Map<string, ApiKeyRecord>;

  constructor(records: readonly ApiKeyRecord[]) {
    this.#records = new Map(records.map((r) => [r.id, r]));
  }

  /** The record of a presented key; throws ApiKeyError when it is malformed or unknown. */
  verify(key: string): ApiKeyRecord {
    const match = KEY.exec(key);
    if (!match) throw new ApiKeyError('the API key is malformed (keys look like iotk_<id>_<secret>)');
    const record = this.#records.get(match[1]!);
    const given = createHash('sha256').update(match[2]!).digest();
    if (!record || !timingSafeEqual(given, Buffer.from(record.sha256, 'hex'))) throw new ApiKeyError('the API key is not valid');
    return record;
  }

  /** The record of a key id (for its quota), without checking any secret. */
  get(id: string): ApiKeyRecord | undefined {
    return this.#records.get(id);
  }

  get size(): number {
    return this.#records.size;
  }
}

/**
 * The caller an API key makes: open data, plus the key's own scopes (`actuators:write`), of no
 * tenant, counted under the key's id (its `subject`: whom grants name and the audit shows as `apiKey:<id>`).
 */
export function apiKeyCaller(record: ApiKeyRecord): Caller {
  const scopes = new Set<Scope>([Scope.OPENDATA_READ]);
  // Checked when the records were read; filtered again so that no record made another way reads private data.
  for (const scope of record.scopes ?? []) if (apiKeyScopes.includes(scope)) scopes.add(scope);
  return { kind: 'apiKey', subject: record.id, tenant: null, scopes: [...scopes] };
}

/** A new key: give `key` to the partner once, store `record`. `scopes`: beyond open data, of `apiKeyScopes`. */
export function issueApiKey(
  id: string,
  name: string,
  requestsPerMinute: number,
  scopes: readonly Scope[] = [],
): { key: string; record: ApiKeyRecord } {
  if (!/^[a-z0-9-]{3,40}$/.test(id)) throw new ApiKeyError(`API key id "${id}" must be 3-40 lowercase letters, digits or dashes`);
  const refused = scopes.filter((scope) => !apiKeyScopes.includes(scope));
  if (refused.length) throw new ApiKeyError(apiKeyScopeMessage(`API key "${id}"`, refused));
  const secret = randomBytes(24).toString('base64url');
  return {
    key: `iotk_${id}_${secret}`,
    record: {
      id,
      name,
      sha256: createHash('sha256').update(secret).digest('hex'),
      requestsPerMinute,
      ...(scopes.length ? { scopes: [...new Set(scopes)] } : {}),
    },
  };
}

function apiKeyScopeMessage(what: string, refused: readonly string[]): string {
  return `${what} may not have the scope${refused.length > 1 ? 's' : ''} ${refused.map((s) => `"${s}"`).join(', ')}: API keys carry only ${apiKeyScopes.join(', ')} (they never read a tenant's devices or private telemetry)`;
}

/** Reads `API_KEYS` (a JSON array of records); throws naming the first bad entry. */
export function parseApiKeys(json: string): ApiKeyRecord[] {
  const value: unknown = JSON.parse(json);
  if (!Array.isArray(value)) throw new ApiKeyError('API keys must be a JSON array of {id, name, sha256, requestsPerMinute, scopes?}');
  return value.map((entry, i) => {
    const r = entry as Partial<ApiKeyRecord>;
    if (
      typeof r.id !== 'string' ||
      typeof r.name !== 'string' ||
      typeof r.sha256 !== 'string' ||
      !/^[0-9a-f]{64}$/.test(r.sha256) ||
      !Number.isInteger(r.requestsPerMinute)
    ) {
      throw new ApiKeyError(`API key #${i + 1} must have id, name, sha256 (64 hex digits) and an integer requestsPerMinute`);
    }
    if (r.scopes === undefined) return { id: r.id, name: r.name, sha256: r.sha256, requestsPerMinute: r.requestsPerMinute! };
    if (!Array.isArray(r.scopes) || !r.scopes.every((s: unknown) => typeof s === 'string'))
      throw new ApiKeyError(`API key #${i + 1} ("${r.id}"): scopes must be an array of scope names`);
    const refused = r.scopes.filter((s) => !apiKeyScopes.includes(s));
    if (refused.length) throw new ApiKeyError(apiKeyScopeMessage(`API key #${i + 1} ("${r.id}")`, refused));
    return { id: r.id, name: r.name, sha256: r.sha256, requestsPerMinute: r.requestsPerMinute!, scopes: [...new Set(r.scopes)] };
  });
}
