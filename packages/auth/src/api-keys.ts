import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { Scope, type Caller } from './caller.ts';

/**
 * A partner's API key for open data. The key itself (`iotk_<id>_<secret>`) is shown once; the
 * platform keeps only the SHA-256 of its secret. Each key has its own quota.
 */
export interface ApiKeyRecord {
  id: string;
  /** Who it was issued to. */
  name: string;
  /** Hex SHA-256 of the key's secret part. */
  sha256: string;
  /** Requests a minute this key may make. */
  requestsPerMinute: number;
}

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

/** The caller an API key makes: open data only, counted under the key's id. */
export function apiKeyCaller(record: ApiKeyRecord): Caller {
  return { kind: 'apiKey', subject: record.id, tenant: null, scopes: [Scope.OPENDATA_READ] };
}

/** A new key: give `key` to the partner once, store `record`. */
export function issueApiKey(id: string, name: string, requestsPerMinute: number): { key: string; record: ApiKeyRecord } {
  if (!/^[a-z0-9-]{3,40}$/.test(id)) throw new ApiKeyError(`API key id "${id}" must be 3-40 lowercase letters, digits or dashes`);
  const secret = randomBytes(24).toString('base64url');
  return {
    key: `iotk_${id}_${secret}`,
    record: { id, name, sha256: createHash('sha256').update(secret).digest('hex'), requestsPerMinute },
  };
}

/** Reads `API_KEYS` (a JSON array of records); throws naming the first bad entry. */
export function parseApiKeys(json: string): ApiKeyRecord[] {
  const value: unknown = JSON.parse(json);
  if (!Array.isArray(value)) throw new ApiKeyError('API keys must be a JSON array of {id, name, sha256, requestsPerMinute}');
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
    return { id: r.id, name: r.name, sha256: r.sha256, requestsPerMinute: r.requestsPerMinute! };
  });
}
