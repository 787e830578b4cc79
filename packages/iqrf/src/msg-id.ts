import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

/**
 * What an `iqrfSensor_Frc` request asked. The daemon selects nodes by a bitmap and answers them in
 * ascending address order, so entry i of `result.sensors` is the value of `nodes[i]`.
 */
export interface FrcClaims {
  sensorType: number;
  sensorIndex: number;
  /**
   * The addresses asked, ascending and distinct. Undefined: no `selectedNodes` (every node), and
   * the answer is indexed by node address.
   */
  nodes?: readonly number[];
}

/** What a verified `msgId` says about the request it was issued for. */
export interface MsgIdClaims {
  /** When it was issued, in ms since the epoch (the issuer's clock). */
  issuedAt: number;
  /** For `iqrfSensor_Frc`: what was asked. */
  frc?: FrcClaims;
}

/** Why a `msgId` was refused: not one of ours for that gateway and mType, or too old. */
export type MsgIdRejection = 'unsolicited' | 'expired';

export type MsgIdVerdict = { ok: true; claims: MsgIdClaims } | { ok: false; reason: MsgIdRejection; detail: string };

export interface MsgIdOptions {
  /**
   * The secret shared by every process that issues or checks msgIds (all collectors and the
   * devices subgraph), at least 16 bytes. Default: a random one, good for a single process.
   */
  secret?: string | Uint8Array;
}

const VERSION = 'v1';
/** Node addresses an FRC can select (0 is the coordinator, 239 the last node). */
const MAX_ADDRESS = 239;
const BITMAP_BYTES = (MAX_ADDRESS + 1) / 8;
const NONCE_BYTES = 9;
/** HMAC-SHA256 truncated to 128 bits. */
const MAC_BYTES = 16;
/** Longer than any msgId we issue (at most 97 characters): refused before any other work. */
const MAX_LENGTH = 128;
/** How far in the future an issue time may be (clocks of several collectors differ a little). */
const MAX_CLOCK_SKEW_MS = 60_000;
const FRC_CLAIMS = /^s(\d{1,3})i(\d{1,3})(?:n([A-Za-z0-9_-]{0,40}))?$/;
const NO_CLAIMS = '-';

/**
 * Issues and checks the `msgId`s of daemon requests, so that any process knowing the secret can
 * tell from an answer's `msgId` alone that the platform sent the request, to which gateway, for
 * which mType, when, and (for FRC) which sensor type, index and nodes it asked.
 *
 * `v1.<issued at, base36 ms>.<nonce>.<claims>.<MAC>`: plain ASCII (`[A-Za-z0-9._-]`), at most 97
 * characters; the MAC is HMAC-SHA256 (first 128 bits) over gateway id, mType and the rest.
 */
export class MsgId {
  private readonly secret: Uint8Array;

  constructor(options: MsgIdOptions = {}) {
    const secret = typeof options.secret === 'string' ? Buffer.from(options.secret, 'utf8') : options.secret;
    if (secret && secret.length < 16) throw new Error(`the msgId secret must be at least 16 bytes (got ${secret.length})`);
    this.secret = secret ?? randomBytes(32);
  }

  /** A new msgId for one request; throws a `RangeError` for claims it cannot carry. */
  issue(gatewayId: string, mType: string, frc?: FrcClaims, now: number = Date.now()): string {
    const body = [
      VERSION,
      Math.floor(now).toString(36),
      randomBytes(NONCE_BYTES).toString('base64url'),
      frc ? encodeFrc(frc) : NO_CLAIMS,
    ].join('.');
    return `${body}.${this.mac(gatewayId, mType, body).toString('base64url')}`;
  }

  /**
   * The claims of `msgId` if this secret issued it for `gatewayId` and `mType`, not more than
   * `maxAgeMs` before `now` (nor more than a minute after it); otherwise why not.
   */
  verify(gatewayId: string, mType: string, msgId: string, now: number = Date.now(), maxAgeMs = Infinity): MsgIdVerdict {
    if (msgId.length > MAX_LENGTH) return unsolicited(`msgId is longer than ${MAX_LENGTH} characters`);
    const parts = msgId.split('.');
    if (parts.length !== 5 || parts[0] !== VERSION) return unsolicited('msgId is not one the platform issues');
    const [, time, , claims, mac] = parts as [string, string, string, string, string];
    // Compared as text, not decoded: base64url decoding skips stray characters and ignores the
    // last character's spare bits, so a decoded comparison would let one msgId be spelt many ways
    // (each a new key for the ledger of answered msgIds).
    const expected = Buffer.from(this.mac(gatewayId, mType, msgId.slice(0, msgId.length - mac.length - 1)).toString('base64url'));
    const given = Buffer.from(mac);
    if (given.length !== expected.length || !timingSafeEqual(given, expected))
      return unsolicited(`msgId was not issued for ${mType} to gateway "${gatewayId}"`);
    const issuedAt = parseInt(time, 36);
    if (!Number.isSafeInteger(issuedAt)) return unsolicited('msgId has no valid issue time');
    if (now - issuedAt > maxAgeMs)
      return { ok: false, reason: 'expired', detail: `msgId was issued ${now - issuedAt} ms ago, more than ${maxAgeMs} ms` };
    if (issuedAt - now > MAX_CLOCK_SKEW_MS)
      return { ok: false, reason: 'expired', detail: `msgId was issued ${issuedAt - now} ms in the future` };
    if (claims === NO_CLAIMS) return { ok: true, claims: { issuedAt } };
    const frc = decodeFrc(claims);
    return frc ? { ok: true, claims: { issuedAt, frc } } : unsolicited('msgId claims are malformed');
  }

  private mac(gatewayId: string, mType: string, body: string): Buffer {
    // JSON keeps the three fields apart whatever characters they hold.
    return createHmac('sha256', this.secret)
      .update(JSON.stringify([gatewayId, mType, body]))
      .digest()
      .subarray(0, MAC_BYTES);
  }
}

function unsolicited(detail: string): MsgIdVerdict {
  return { ok: false, reason: 'unsolicited', detail };
}

function encodeFrc({ sensorType, sensorIndex, nodes }: FrcClaims): string {
  if (!isByte(sensorType) || !isByte(sensorIndex))
    throw new RangeError(`FRC sensor type ${sensorType} and index ${sensorIndex} must be integers 0-255`);
  const head = `s${sensorType}i${sensorIndex}`;
  if (!nodes) return head;
  const bitmap = Buffer.alloc(BITMAP_BYTES);
  let last = -1;
  for (const node of nodes) {
    if (!Number.isInteger(node) || node <= last || node > MAX_ADDRESS)
      throw new RangeError(`FRC nodes must be ascending distinct addresses 0-${MAX_ADDRESS} (got ${node} after ${last})`);
    bitmap[node >> 3]! |= 1 << (node & 7);
    last = node;
  }
  // Trailing zero bytes say nothing: a mesh of low addresses makes a short msgId.
  let length = BITMAP_BYTES;
  while (length > 0 && bitmap[length - 1] === 0) length--;
  return `${head}n${bitmap.subarray(0, length).toString('base64url')}`;
}

function decodeFrc(claims: string): FrcClaims | undefined {
  const match = FRC_CLAIMS.exec(claims);
  if (!match) return undefined;
  const sensorType = Number(match[1]);
  const sensorIndex = Number(match[2]);
  if (!isByte(sensorType) || !isByte(sensorIndex)) return undefined;
  if (match[3] === undefined) return { sensorType, sensorIndex };
  const bitmap = Buffer.from(match[3], 'base64url');
  const nodes: number[] = [];
  for (let node = 0; node < Math.min(bitmap.length * 8, MAX_ADDRESS + 1); node++)
    if (bitmap[node >> 3]! & (1 << (node & 7))) nodes.push(node);
  return { sensorType, sensorIndex, nodes };
}

function isByte(value: number): boolean {
  return Number.isInteger(value) && value >= 0 && value <= 255;
}
