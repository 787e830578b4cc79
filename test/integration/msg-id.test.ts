import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { MsgId } from '#iqrf';
import { ThrottledWarnings } from '#log';
import { MemoryAnswerLedger } from '../../collector/src/answer-ledger.ts';
import { RedisAnswerLedger } from '../../collector/src/redis-answer-ledger.ts';
import { startRedis, type RedisService } from '../support/services/redis.ts';

const secret = 'unit-test-msgid-secret';
const everyNode = Array.from({ length: 239 }, (_, i) => i + 1);

describe('MsgId', () => {
  const msgIds = new MsgId({ secret });
  const now = Date.UTC(2026, 0, 1);

  it('round-trips the FRC claims, in plain ASCII under 128 characters', () => {
    for (const nodes of [[1, 4], [0], [239], everyNode, [7, 8, 64, 200]]) {
      const msgId = msgIds.issue('pisek-gw001', 'iqrfSensor_Frc', { sensorType: 160, sensorIndex: 1, nodes }, now);
      expect(msgId).toMatch(/^[A-Za-z0-9._-]{1,127}$/);
      expect(msgIds.verify('pisek-gw001', 'iqrfSensor_Frc', msgId, now + 1_000, 60_000)).toEqual({
        ok: true,
        claims: { issuedAt: now, frc: { sensorType: 160, sensorIndex: 1, nodes } },
      });
    }
    const all = msgIds.issue('gw', 'iqrfSensor_Frc', { sensorType: 1, sensorIndex: 0 }, now);
    expect(msgIds.verify('gw', 'iqrfSensor_Frc', all, now)).toEqual({
      ok: true,
      claims: { issuedAt: now, frc: { sensorType: 1, sensorIndex: 0 } },
    });
    const plain = msgIds.issue('gw', 'iqrfDb_GetNetworkTopology', undefined, now);
    expect(msgIds.verify('gw', 'iqrfDb_GetNetworkTopology', plain, now)).toEqual({ ok: true, claims: { issuedAt: now } });
    expect(msgIds.issue('gw', 'iqrfDb_GetNetworkTopology')).not.toBe(msgIds.issue('gw', 'iqrfDb_GetNetworkTopology'));
  });

  it('is accepted by another holder of the secret, refused by anyone else', () => {
    const msgId = msgIds.issue('gw', 'iqrfSensor_Frc', { sensorType: 1, sensorIndex: 0, nodes: [1] });
    expect(new MsgId({ secret }).verify('gw', 'iqrfSensor_Frc', msgId).ok).toBe(true);
    expect(new MsgId({ secret: 'another-secret-of-16-bytes' }).verify('gw', 'iqrfSensor_Frc', msgId)).toMatchObject({
      ok: false,
      reason: 'unsolicited',
    });
    expect(new MsgId().verify('gw', 'iqrfSensor_Frc', msgId)).toMatchObject({ ok: false, reason: 'unsolicited' });
    expect(() => new MsgId({ secret: 'short' })).toThrow(/at least 16 bytes/);
  });

  it('refuses another gateway, another mType, tampered claims, time or MAC, and garbage', () => {
    const msgId = msgIds.issue('pisek-gw001', 'iqrfSensor_Frc', { sensorType: 160, sensorIndex: 0, nodes: [1, 2] }, now);
    const verify = (id: string, gatewayId = 'pisek-gw001', mType = 'iqrfSensor_Frc') => msgIds.verify(gatewayId, mType, id, now);
    expect(verify(msgId, 'pisek-gw002')).toMatchObject({ ok: false, reason: 'unsolicited' });
    expect(verify(msgId, 'pisek-gw001', 'iqrfSensor_Enumerate')).toMatchObject({ ok: false, reason: 'unsolicited' });
    const [version, time, nonce, claims, mac] = msgId.split('.') as [string, string, string, string, string];
    const forge = (parts: Partial<Record<'time' | 'nonce' | 'claims' | 'mac', string>>) =>
      [version, parts.time ?? time, parts.nonce ?? nonce, parts.claims ?? claims, parts.mac ?? mac].join('.');
    expect(verify(forge({ claims: claims.replace('s160', 's161') }))).toMatchObject({ ok: false, reason: 'unsolicited' });
    expect(verify(forge({ claims: 's160i0n__8' }))).toMatchObject({ ok: false, reason: 'unsolicited' }); // every node of the first byte
    expect(verify(forge({ time: (now + 1).toString(36) }))).toMatchObject({ ok: false, reason: 'unsolicited' });
    expect(verify(forge({ nonce: 'AAAAAAAAAAAA' }))).toMatchObject({ ok: false, reason: 'unsolicited' });
    expect(verify(forge({ mac: 'A'.repeat(22) }))).toMatchObject({ ok: false, reason: 'unsolicited' });
    expect(verify(forge({ mac: mac.slice(0, 10) }))).toMatchObject({ ok: false, reason: 'unsolicited' });
    // One msgId has one spelling: padding, stray characters or other spare bits in the MAC would
    // make it a new key for the ledger of answered msgIds (a replay that passes).
    const lastChar = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
    const respelt = lastChar[(lastChar.indexOf(mac.at(-1)!) ^ 1) % 64]!;
    for (const variant of [`${mac}=`, `${mac.slice(0, 5)}!${mac.slice(5)}`, `${mac.slice(0, -1)}${respelt}`]) {
      expect(verify(forge({ mac: variant })), variant).toMatchObject({ ok: false, reason: 'unsolicited' });
    }
    expect(verify(msgId)).toMatchObject({ ok: true });
    for (const garbage of ['', 'while-away', '35a2a9f6-1c1a-459a-8707-c20b9351acba', 'v1....', `${msgId}.x`, 'x'.repeat(100_000)]) {
      expect(verify(garbage)).toMatchObject({ ok: false, reason: 'unsolicited' });
    }
  });

  it('says expired past the window, and for an issue time far in the future', () => {
    const msgId = msgIds.issue('gw', 'iqrfSensor_Frc', { sensorType: 1, sensorIndex: 0, nodes: [1] }, now);
    expect(msgIds.verify('gw', 'iqrfSensor_Frc', msgId, now + 70_000, 70_000).ok).toBe(true);
    expect(msgIds.verify('gw', 'iqrfSensor_Frc', msgId, now + 70_001, 70_000)).toMatchObject({ ok: false, reason: 'expired' });
    expect(msgIds.verify('gw', 'iqrfSensor_Frc', msgId, now - 10 * 60_000, 70_000)).toMatchObject({ ok: false, reason: 'expired' });
  });

  it('refuses to issue claims it cannot carry', () => {
    expect(() => msgIds.issue('gw', 'iqrfSensor_Frc', { sensorType: 1, sensorIndex: 0, nodes: [4, 1] })).toThrow(RangeError);
    expect(() => msgIds.issue('gw', 'iqrfSensor_Frc', { sensorType: 1, sensorIndex: 0, nodes: [1, 1] })).toThrow(RangeError);
    expect(() => msgIds.issue('gw', 'iqrfSensor_Frc', { sensorType: 1, sensorIndex: 0, nodes: [240] })).toThrow(RangeError);
    expect(() => msgIds.issue('gw', 'iqrfSensor_Frc', { sensorType: 256, sensorIndex: 0, nodes: [1] })).toThrow(RangeError);
    expect(() => msgIds.issue('gw', 'iqrfSensor_Frc', { sensorType: Number.NaN, sensorIndex: 0 })).toThrow(RangeError);
  });
});

describe('answer ledgers', () => {
  let redis: RedisService;
  beforeAll(async () => {
    redis = await startRedis();
  });
  afterAll(async () => {
    await redis?.stop();
  });

  it('in memory: first use once within the TTL, again after it, bounded in entries', async () => {
    let now = 0;
    const ledger = new MemoryAnswerLedger({ now: () => now, maxEntries: 3 });
    expect(await ledger.firstUse('a', 100)).toBe(true);
    expect(await ledger.firstUse('a', 100)).toBe(false);
    expect(await ledger.firstUse('b', 100)).toBe(true);
    now = 100;
    expect(await ledger.firstUse('a', 100)).toBe(true);
    for (const id of ['c', 'd', 'e']) expect(await ledger.firstUse(id, 1_000)).toBe(true);
    expect(await ledger.firstUse('a', 1_000)).toBe(true); // the oldest was forgotten past maxEntries
  });

  it('in Redis: one first use across instances (several collectors, restarts), forgotten after the TTL', async () => {
    const [one, two] = [
      new RedisAnswerLedger({ url: redis.url, logger: pino({ level: 'silent' }) }),
      new RedisAnswerLedger({ url: redis.url, logger: pino({ level: 'silent' }) }),
    ];
    try {
      const results = await Promise.all(Array.from({ length: 20 }, (_, i) => (i % 2 ? one : two).firstUse('msg-1', 60_000)));
      expect(results.filter(Boolean)).toHaveLength(1);
      expect(await two.firstUse('msg-2', 50)).toBe(true);
      expect(await one.firstUse('msg-2', 50)).toBe(false);
      await new Promise((resolve) => setTimeout(resolve, 120));
      expect(await one.firstUse('msg-2', 50)).toBe(true);
    } finally {
      await Promise.all([one.close(), two.close()]);
    }
  });
});

describe('ThrottledWarnings', () => {
  it('writes the first warning of a kind at once, the rest of the interval as one line with a count', async () => {
    const lines: Array<Record<string, unknown>> = [];
    const logger = pino({ level: 'warn' }, { write: (line: string) => lines.push(JSON.parse(line) as Record<string, unknown>) });
    const warnings = new ThrottledWarnings(logger, { intervalMs: 100, maxGatewayIds: 2 });
    for (let i = 0; i < 10_000; i++) warnings.warn('bad', 'bad thing', { gatewayId: `gw${i % 4}`, reason: 'x' });
    warnings.warn('other', 'other thing');
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatchObject({ msg: 'bad thing', kind: 'bad', dropped: 1, gatewayIds: ['gw0'], reason: 'x' });
    await new Promise((resolve) => setTimeout(resolve, 150));
    expect(lines).toHaveLength(3);
    expect(lines[2]).toMatchObject({ msg: 'bad thing', kind: 'bad', dropped: 9_999, gatewayIds: ['gw1', 'gw2'] });
    warnings.warn('bad', 'bad thing', {}, 5);
    warnings.flush();
    expect(lines).toHaveLength(4);
    expect(lines[3]).toMatchObject({ dropped: 5 });
  });
});
