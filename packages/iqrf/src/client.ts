import type { IPublishPacket, MqttClient } from 'mqtt';
import { ThrottledWarnings, type Logger } from '#log';
import { isObject, parseDaemonResponse, type DaemonRequest, type DaemonResponse } from './messages.ts';
import { MsgId, type FrcClaims } from './msg-id.ts';
import { gatewayFromTopic, topicFor, type TopicScheme, defaultTopics } from './topics.ts';

/** The daemon did not answer within the timeout. */
export class IqrfTimeoutError extends Error {
  constructor(
    readonly gatewayId: string,
    readonly mType: string,
    timeoutMs: number,
  ) {
    super(`IQRF daemon of gateway "${gatewayId}" did not answer ${mType} within ${timeoutMs} ms`);
    this.name = 'IqrfTimeoutError';
  }
}

/** The daemon answered with a non-zero status, or with `messageError`. */
export class IqrfStatusError extends Error {
  constructor(
    readonly gatewayId: string,
    readonly mType: string,
    readonly status: number,
    statusStr: string,
  ) {
    super(`IQRF daemon of gateway "${gatewayId}" answered ${mType} with status ${status} (${statusStr})`);
    this.name = 'IqrfStatusError';
  }
}

/** The MQTT connection is down: the request was not sent. */
export class IqrfUnavailableError extends Error {
  constructor(
    readonly gatewayId: string,
    readonly mType: string,
  ) {
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
  /**
   * Secret of the signed msgIds, shared by every platform process that sends daemon requests or
   * turns answers into readings (see `MsgId`). Default: a random one, good for a single process.
   */
  msgIdSecret?: string;
  /**
   * Payloads on response topics larger than this are dropped unparsed and counted as `oversized`.
   * Default 256 KiB (a daemon's largest answers, a topology of 239 devices or an FRC of 239
   * entries, are a few tens of KiB).
   */
  maxPayloadBytes?: number;
  /** At most one warning line per kind in this time (malformed or oversized payloads). Default 30 s. */
  warningIntervalMs?: number;
  logger: Logger;
}

export interface IqrfClientStats {
  /** Payloads on response topics that were not valid daemon responses. */
  malformed: number;
  /** Valid responses to requests this client did not send (or that already timed out). */
  unmatched: number;
  /** Payloads over `maxPayloadBytes`, dropped unparsed. */
  oversized: number;
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
  readonly stats: IqrfClientStats = { malformed: 0, unmatched: 0, oversized: 0, timeouts: 0 };
  /** Issues the msgIds of this client's requests; checks those of answers (also for a collector). */
  readonly msgIds: MsgId;
  private readonly pending = new Map<string, Pending>();
  private readonly seen = new Map<string, number>();
  private readonly listeners = new Set<ResponseListener>();
  private readonly topics: TopicScheme;
  private readonly timeoutMs: number;
  private readonly logger: Logger;
  private readonly onMessage = (topic: string, payload: Buffer, packet: IPublishPacket) => this.handleMessage(topic, payload, packet);
  private readonly subscriptionIdentifier: number | undefined;
  private readonly maxPayloadBytes: number;
  private readonly warnings: ThrottledWarnings;

  constructor(
    private readonly mqtt: MqttClient,
    options: IqrfClientOptions,
  ) {
    this.topics = options.topics ?? defaultTopics;
    this.timeoutMs = options.timeoutMs ?? 10_000;
    this.logger = options.logger;
    this.msgIds = new MsgId({ secret: options.msgIdSecret });
    this.maxPayloadBytes = options.maxPayloadBytes ?? 256 * 1024;
    this.warnings = new ThrottledWarnings(options.logger, { intervalMs: options.warningIntervalMs });
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

  /** How long a request waits for its answer unless told otherwise, in ms. */
  get requestTimeoutMs(): number {
    return this.timeoutMs;
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
    this.warnings.flush();
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
    let msgId: string;
    try {
      ({ msgId, req } = this.sign(gatewayId, mType, req));
    } catch (error) {
      handlers.fail(error as Error);
      return;
    }
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

  /**
   * A signed msgId for the request. An FRC's claims are its sensor type, index and nodes; its
   * `selectedNodes` are sent ascending and distinct, the order in which the daemon answers them.
   */
  private sign<TReq>(gatewayId: string, mType: string, req: TReq): { msgId: string; req: TReq } {
    if (mType !== 'iqrfSensor_Frc') return { msgId: this.msgIds.issue(gatewayId, mType), req };
    const param = isObject(req) && isObject(req.param) ? req.param : {};
    const selected = Array.isArray(param.selectedNodes) ? [...new Set(param.selectedNodes as number[])].sort((a, b) => a - b) : undefined;
    const claims: FrcClaims = {
      sensorType: Number(param.sensorType),
      sensorIndex: Number(param.sensorIndex ?? 0),
      ...(selected ? { nodes: selected } : {}),
    };
    const msgId = this.msgIds.issue(gatewayId, mType, claims);
    return { msgId, req: selected ? ({ ...req, param: { ...param, selectedNodes: selected } } as TReq) : req };
  }

  private handleMessage(topic: string, payload: Buffer, packet: IPublishPacket): void {
    const gatewayId = gatewayFromTopic(this.topics.responses, topic);
    if (gatewayId === undefined) return;
    if (payload.length > this.maxPayloadBytes) {
      this.stats.oversized++;
      this.warnings.warn('oversized-payload', 'oversized IQRF daemon response dropped unparsed', {
        gatewayId,
        bytes: payload.length,
        maxPayloadBytes: this.maxPayloadBytes,
      });
      return;
    }
    const parsed = parseDaemonResponse(payload);
    if (!parsed.ok) {
      this.stats.malformed++;
      this.warnings.warn('malformed-payload', 'malformed IQRF daemon response ignored', {
        gatewayId,
        error: parsed.error.slice(0, 200),
        bytes: payload.length,
      });
      return;
    }
    this.seen.set(gatewayId, Date.now());
    const identifiers = packet.properties?.subscriptionIdentifier;
    const subscriptionIdentifiers = identifiers === undefined ? [] : Array.isArray(identifiers) ? identifiers : [identifiers];
    for (const listener of this.listeners) listener(gatewayId, parsed.value, subscriptionIdentifiers);
    // A copy that reached us only through another subscription (e.g. a shared one) is not ours to match.
    if (this.subscriptionIdentifier && subscriptionIdentifiers.length && !subscriptionIdentifiers.includes(this.subscriptionIdentifier))
      return;
    const msgId = parsed.value.data.msgId;
    const pending = this.pending.get(msgId);
    // A pending msgId answered on another gateway's topic, or for another mType, is not an answer.
    // (Only msgIds this client issued are pending: their MAC needs no second check here.)
    const mType = parsed.value.mType === 'messageError' ? pending?.mType : parsed.value.mType;
    if (!pending || pending.gatewayId !== gatewayId || pending.mType !== mType) {
      this.stats.unmatched++;
      return;
    }
    pending.onResponse(parsed.value);
  }
}
