import { randomUUID } from 'node:crypto';
import type { IPublishPacket, MqttClient } from 'mqtt';
import type { Logger } from '#log';
import { parseDaemonResponse, type DaemonRequest, type DaemonResponse } from './messages.ts';
import { gatewayFromTopic, topicFor, type TopicScheme, defaultTopics } from './topics.ts';

/** The daemon did not answer within the timeout. */
export class IqrfTimeoutError extends Error {
  constructor(readonly gatewayId: string, readonly mType: string, timeoutMs: number) {
    super(`IQRF daemon of gateway "${gatewayId}" did not answer ${mType} within ${timeoutMs} ms`);
    this.name = 'IqrfTimeoutError';
  }
}

/** The daemon answered with a non-zero status, or with `messageError`. */
export class IqrfStatusError extends Error {
  constructor(readonly gatewayId: string, readonly mType: string, readonly status: number, statusStr: string) {
    super(`IQRF daemon of gateway "${gatewayId}" answered ${mType} with status ${status} (${statusStr})`);
    this.name = 'IqrfStatusError';
  }
}

/** The MQTT connection is down: the request was not sent. */
export class IqrfUnavailableError extends Error {
  constructor(readonly gatewayId: string, readonly mType: string) {
    super(`cannot send ${mType} to gateway "${gatewayId}": the MQTT broker is not connected`);
    this.name = 'IqrfUnavailableError';
  }
}

export interface IqrfClientOptions {
  topics?: TopicScheme;
  /**
   * MQTT 5 subscription identifier of the response subscription, so that a client holding other
   * subscriptions to the same topics (a collector's shared one) can tell copies apart.
   */
  subscriptionIdentifier?: number;
  /** Default time to wait for an answer. */
  timeoutMs?: number;
  logger: Logger;
}

export interface IqrfClientStats {
  /** Payloads on response topics that were not valid daemon responses. */
  malformed: number;
  /** Valid responses to requests this client did not send (or that already timed out). */
  unmatched: number;
  timeouts: number;
}

/** Sees every valid daemon response on the response topics, matched to a request or not. */
export type ResponseListener = (gatewayId: string, response: DaemonResponse, subscriptionIdentifiers: readonly number[]) => void;

interface Pending {
  gatewayId: string;
  mType: string;
  onResponse(response: DaemonResponse): void;
  fail(error: Error): void;
}

/**
 * Talks to IQRF Gateway Daemons over MQTT: publishes requests on each gateway's request topic
 * (QoS 1) and matches answers on the response topics by `msgId`. Many clients may share the
 * response topics; answers to other clients' requests are ignored.
 */
export class IqrfClient {
  readonly stats: IqrfClientStats = { malformed: 0, unmatched: 0, timeouts: 0 };
  private readonly pending = new Map<string, Pending>();
  private readonly seen = new Map<string, number>();
  private readonly listeners = new Set<ResponseListener>();
  private readonly topics: TopicScheme;
  private readonly timeoutMs: number;
  private readonly logger: Logger;
  private readonly onMessage = (topic: string, payload: Buffer, packet: IPublishPacket) => this.handleMessage(topic, payload, packet);
  private readonly subscriptionIdentifier: number | undefined;

  constructor(private readonly mqtt: MqttClient, options: IqrfClientOptions) {
    this.topics = options.topics ?? defaultTopics;
    this.timeoutMs = options.timeoutMs ?? 10_000;
    this.logger = options.logger;
    this.subscriptionIdentifier = options.subscriptionIdentifier;
    // Listen from the start: a persistent session is replayed right after the connection opens.
    this.mqtt.on('message', this.onMessage);
    this.mqtt.on('connect', this.onReconnect);
  }

  // Subscribe again on every reconnection: a broker that restarted may have kept the session but
  // not every subscription of it (Mosquitto 2.0 forgets shared ones), and subscribing is idempotent.
  private readonly onReconnect = () => {
    if (!this.started) return;
    this.subscribe().catch((error: Error) => this.logger.warn({ err: error.message }, 'resubscribing to IQRF responses failed'));
  };
  private started = false;

  /** Subscribes to every gateway's response topic. */
  async start(): Promise<void> {
    this.started = true;
    await this.subscribe();
  }

  private async subscribe(): Promise<void> {
    await this.mqtt.subscribeAsync(topicFor(this.topics.responses, '+'), {
      qos: 1,
      ...(this.subscriptionIdentifier ? { properties: { subscriptionIdentifier: this.subscriptionIdentifier } } : {}),
    });
  }

  /** The MQTT connection this client talks over. */
  get mqttClient(): MqttClient {
    return this.mqtt;
  }

  /** The response topics' subscription pattern (with `+` for the gateway id). */
  get responseTopicFilter(): string {
    return topicFor(this.topics.responses, '+');
  }

  /** Calls `listener` with every valid response from now on; returns the function that stops it. */
  onResponse(listener: ResponseListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Sends one request and resolves with the answer's `data` (status 0), or rejects with a clear error. */
  async request<TRsp = unknown, TReq = unknown>(
    gatewayId: string,
    mType: string,
    req: TReq,
    options: { timeoutMs?: number } = {},
  ): Promise<DaemonResponse<TRsp>['data']> {
    return new Promise((resolve, reject) => {
      this.send(gatewayId, mType, req, options.timeoutMs, {
        onResponse: (response, done) => {
          done();
          resolve(response.data as DaemonResponse<TRsp>['data']);
        },
        fail: reject,
      });
    });
  }

  /**
   * Sends one request whose answer comes in several messages under one `msgId` (e.g.
   * `iqmeshNetwork_AutoNetwork`): yields each `rsp` until `isLast(rsp)` says so. The timeout
   * applies between two messages.
   */
  async *stream<TRsp = unknown, TReq = unknown>(
    gatewayId: string,
    mType: string,
    req: TReq,
    isLast: (rsp: TRsp) => boolean,
    options: { timeoutMs?: number } = {},
  ): AsyncGenerator<TRsp> {
    const queue: TRsp[] = [];
    let failure: Error | undefined;
    let finished = false;
    let wake: (() => void) | undefined;
    const notify = () => {
      wake?.();
      wake = undefined;
    };
    this.send(gatewayId, mType, req, options.timeoutMs, {
      onResponse: (response, done, rearm) => {
        const rsp = response.data.rsp as TRsp;
        queue.push(rsp);
        if (isLast(rsp)) {
          finished = true;
          done();
        } else rearm();
        notify();
      },
      fail: (error) => {
        failure = error;
        notify();
      },
    });
    while (true) {
      const next = queue.shift();
      if (next !== undefined) {
        yield next;
        continue;
      }
      if (failure) throw failure;
      if (finished) return;
      await new Promise<void>((resolve) => (wake = resolve));
    }
  }

  /** When the gateway's daemon last sent a valid response (to anyone), in ms since the epoch. */
  lastSeen(gatewayId: string): number | undefined {
    return this.seen.get(gatewayId);
  }

  /** Rejects every request in flight and stops listening. */
  close(): void {
    this.mqtt.off('message', this.onMessage);
    this.mqtt.off('connect', this.onReconnect);
    for (const [msgId, pending] of this.pending) {
      this.pending.delete(msgId);
      pending.fail(new Error(`IQRF client closed before gateway "${pending.gatewayId}" answered ${pending.mType}`));
    }
  }

  private send<TReq>(
    gatewayId: string,
    mType: string,
    req: TReq,
    timeoutMs = this.timeoutMs,
    handlers: {
      onResponse(response: DaemonResponse, done: () => void, rearm: () => void): void;
      fail(error: Error): void;
    },
  ): void {
    if (!this.mqtt.connected) {
      handlers.fail(new IqrfUnavailableError(gatewayId, mType));
      return;
    }
    const msgId = randomUUID();
    let timer: NodeJS.Timeout;
    const done = () => {
      clearTimeout(timer);
      this.pending.delete(msgId);
    };
    const arm = () => {
      clearTimeout(timer);
      timer = setTimeout(() => {
        this.pending.delete(msgId);
        this.stats.timeouts++;
        handlers.fail(new IqrfTimeoutError(gatewayId, mType, timeoutMs));
      }, timeoutMs);
    };
    this.pending.set(msgId, {
      gatewayId,
      mType,
      onResponse: (response) => {
        if (response.mType === 'messageError' || response.data.status !== 0) {
          done();
          handlers.fail(new IqrfStatusError(gatewayId, mType, response.data.status, response.data.statusStr ?? 'error'));
          return;
        }
        handlers.onResponse(response, done, arm);
      },
      fail: (error) => {
        done();
        handlers.fail(error);
      },
    });
    arm();
    const request: DaemonRequest<TReq> = { mType, data: { msgId, req, returnVerbose: false } };
    this.mqtt.publish(topicFor(this.topics.requests, gatewayId), JSON.stringify(request), { qos: 1 }, (error) => {
      if (!error) return;
      const pending = this.pending.get(msgId);
      pending?.fail(new Error(`cannot publish ${mType} to gateway "${gatewayId}": ${error.message}`));
    });
  }

  private handleMessage(topic: string, payload: Buffer, packet: IPublishPacket): void {
    const gatewayId = gatewayFromTopic(this.topics.responses, topic);
    if (gatewayId === undefined) return;
    const parsed = parseDaemonResponse(payload);
    if (!parsed.ok) {
      this.stats.malformed++;
      this.logger.warn({ topic, error: parsed.error, bytes: payload.length }, 'malformed IQRF daemon response ignored');
      return;
    }
    this.seen.set(gatewayId, Date.now());
    const identifiers = packet.properties?.subscriptionIdentifier;
    const subscriptionIdentifiers = identifiers === undefined ? [] : Array.isArray(identifiers) ? identifiers : [identifiers];
    for (const listener of this.listeners) listener(gatewayId, parsed.value, subscriptionIdentifiers);
    // A copy that reached us only through another subscription (e.g. a shared one) is not ours to match.
    if (this.subscriptionIdentifier && subscriptionIdentifiers.length && !subscriptionIdentifiers.includes(this.subscriptionIdentifier)) return;
    const pending = this.pending.get(parsed.value.data.msgId);
    if (!pending || pending.gatewayId !== gatewayId) {
      this.stats.unmatched++;
      return;
    }
    pending.onResponse(parsed.value);
  }
}
