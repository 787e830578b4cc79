import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { gatewayFromTopic, parseDaemonResponse, parseSensorValue, topicFor, defaultTopics } from '#iqrf';

const fixtures = new URL('../../../shared/reference/iqrf-daemon-api/', import.meta.url);

describe('IQRF daemon wire format', () => {
  it('accepts every response the daemon publishes as an example', () => {
    const files = readdirSync(fixtures).filter((f) => f.endsWith('-response.json'));
    expect(files.length).toBeGreaterThan(5);
    for (const file of files) {
      const parsed: unknown = JSON.parse(readFileSync(new URL(file, fixtures), 'utf8'));
      for (const message of Array.isArray(parsed) ? parsed : [parsed]) {
        const result = parseDaemonResponse(JSON.stringify(message));
        expect(result, file).toMatchObject({ ok: true });
      }
    }
  });

  it('says exactly what is wrong with a bad payload', () => {
    expect(parseDaemonResponse('{not json')).toMatchObject({ ok: false, error: expect.stringContaining('not JSON') });
    expect(parseDaemonResponse('[]')).toEqual({ ok: false, error: 'payload is not a JSON object' });
    expect(parseDaemonResponse('{"data":{}}')).toEqual({ ok: false, error: '"mType" is missing or not a string' });
    expect(parseDaemonResponse('{"mType":"x","data":{"msgId":"1"}}')).toEqual({
      ok: false,
      error: '"data.status" is missing or not a number',
    });
  });

  it('validates sensor entries of FRC answers, keeping nulls', () => {
    const frc = JSON.parse(readFileSync(new URL('iqrfSensor_Frc-response.json', fixtures), 'utf8'))[0];
    const [first, second] = frc.data.rsp.result.sensors;
    expect(parseSensorValue(first, 's[0]')).toEqual({ ok: true, value: null });
    expect(parseSensorValue(second, 's[1]')).toMatchObject({ ok: true, value: { type: 1, value: 25 } });
    expect(parseSensorValue({ type: 'x', value: 1 }, 's[2]')).toEqual({ ok: false, error: 's[2].type is not an integer' });
    expect(parseSensorValue({ type: 1, value: 'hot' }, 's[3]')).toEqual({ ok: false, error: 's[3].value is not a finite number' });
  });

  it('maps gateways to their topics and back', () => {
    expect(topicFor(defaultTopics.requests, 'gw-1')).toBe('gateway/gw-1/iqrf/requests');
    expect(gatewayFromTopic(defaultTopics.responses, 'gateway/gw-1/iqrf/responses')).toBe('gw-1');
    expect(gatewayFromTopic(defaultTopics.responses, 'gateway/a/b/iqrf/responses')).toBeUndefined();
    expect(gatewayFromTopic(defaultTopics.responses, 'other/topic')).toBeUndefined();
  });
});
