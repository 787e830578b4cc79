import { MAX_QUEUE_LENGTH, Repeater, RepeaterOverflowError } from '@repeaterjs/repeater';
import type { IPublishPacket, MqttClient } from 'mqtt';
import { ThrottledWarnings, type Logger } from '#log';
import { MESSAGE_ERROR, MType, validateResponse, type RequestOf, type ResponseOf } from './api.ts';
import { parseDaemonResponse, type DaemonRequest, type DaemonResponse, type FrcRequest } from './messages.ts';
import { MsgId, type FrcClaims } from './msg-id.ts';
import { gatewayFromTopic, meshChangedTopics, topicFor, type TopicScheme, defaultTopics } from './topics.ts';

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

/** The daemon answered with status 0, but its `data.rsp` is not what the mType's answer is (`api.ts`). */
export class IqrfResponseError extends Error {
  constructor(
    readonly gatewayId: string,
    readonly mType: string,
    readonly detail: string,
  ) {
    super(`IQRF daemon of gateway "${gatewayId}" answered ${mType} with an invalid response: ${detail}`);
    this.name = 'IqrfResponseError';
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

/** The `data` of a status 0 answer to `M`, its `rsp` validated. */
export type DaemonAnswer<M extends MType> = DaemonResponse<ResponseOf<M>>['data'];

/** A subscription shared by several clients (`$share/<group>/…`): each message goes to one of them. */
export interface SharedSubscription {
  group: string;
  /** Its MQTT 5 subscription identifier, telling its copies from those of the client's own subscription. */
  identifier: number;
}

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
  private readonly meshListeners = new Set<(gatewayId: string) => void>();
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

  /** Whether the broker connection is up (a request sent now is not refused as unavailable). */
  get connected(): boolean {
    return this.mqtt.connected;
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

  /**
   * Calls `listener` with the gateway of every mesh change announced (`announceMeshChange`) from
   * now on, once `followMeshChanges` subscribed; returns the function that stops it.
   */
  onMeshChange(listener: (gatewayId: string) => void): () => void {
    this.meshListeners.add(listener);
    return () => this.meshListeners.delete(listener);
  }

  /** Subscribes to every gateway's mesh-change announcements (QoS 1); `onMeshChange` hears them. */
  async followMeshChanges(): Promise<void> {
    await this.mqtt.subscribeAsync(meshChangedTopics.filter, { qos: 1 });
  }

  /**
   * Tells every process caching what the daemon said of the gateway's mesh (bonding, unbonding,
   * discovery changed it) to forget it; resolves once the broker has the announcement.
   */
  async announceMeshChange(gatewayId: string): Promise<void> {
    await this.mqtt.publishAsync(meshChangedTopics.of(gatewayId), '', { qos: 1 });
  }

  /**
   * Joins a shared subscription of every gateway's response topic, again after each reconnection
   * (Mosquitto 2.0 restores sessions without their shared subscriptions); its copies reach the
   * response listeners with `shared.identifier`. Failures are logged. Returns the function that
   * stops rejoining.
   */
  async shareResponses(shared: SharedSubscription): Promise<() => void> {
    const filter = `$share/${shared.group}/${this.responseTopicFilter}`;
    let joinedOnce = false;
    const join = async (): Promise<void> => {
      try {
        // A shared subscription Mosquitto 2.0 restored from its persistence after a restart delivers
        // nothing, and subscribing over it changes nothing: drop it and subscribe anew.
        if (joinedOnce) await this.mqtt.unsubscribeAsync(filter);
        await this.mqtt.subscribeAsync(filter, { qos: 1, properties: { subscriptionIdentifier: shared.identifier } });
        joinedOnce = true;
      } catch (error) {
        this.logger.warn({ err: (error as Error).message, filter }, 'cannot join the collectors shared subscription');
      }
    };
    this.mqtt.on('connect', join);
    await join();
    return () => this.mqtt.off('connect', join);
  }

  /**
   * Sends one request and resolves with the answer's `data` (status 0, `rsp` checked by the
   * mType's validator), or rejects with a clear error.
   */
  async request<M extends MType>(
    gatewayId: string,
    mType: M,
    req: RequestOf<M>,
    options: { timeoutMs?: number } = {},
  ): Promise<DaemonAnswer<M>> {
    return new Promise((resolve, reject) => {
      this.send(gatewayId, mType, req, options.timeoutMs, {
        onResponse: (response, done) => {
          done();
          const rsp = validateResponse(mType, response.data.rsp);
          if (rsp.ok) resolve({ ...response.data, rsp: rsp.value });
          else reject(new IqrfResponseError(gatewayId, mType, rsp.error));
        },
        fail: reject,
      });
    });
  }

  /**
   * Sends one request whose answer comes in several messages under one `msgId` (e.g.
   * `iqmeshNetwork_AutoNetwork`): yields each validated `rsp` until `isLast(rsp)` says so. The
   * timeout applies between two messages. Returning early (while waiting or not) forgets the
   * request: later messages of it are unmatched.
   */
  stream<M extends MType>(
    gatewayId: string,
    mType: M,
    req: RequestOf<M>,
    isLast: (rsp: ResponseOf<M>) => boolean,
    options: { timeoutMs?: number } = {},
  ): AsyncIterableIterator<ResponseOf<M>> {
    return new Repeater<ResponseOf<M>>(async (push, stop) => {
      const forget = this.send(gatewayId, mType, req, options.timeoutMs, {
        onResponse: (response, done, rearm) => {
          const rsp = validateResponse(mType, response.data.rsp);
          if (!rsp.ok) {
            done();
            stop(new IqrfResponseError(gatewayId, mType, rsp.error));
            return;
          }
          // Not awaited: messages are buffered until read (a discovery sends a few dozen). Past
          // the repeater's 1024 unread, push throws, here inside the MQTT client's message event:
          // a daemon's flood fails the request instead of ending the process.
          try {
            void push(rsp.value);
          } catch (error) {
            if (!(error instanceof RepeaterOverflowError)) throw error;
            done();
            stop(new IqrfResponseError(gatewayId, mType, `more than ${MAX_QUEUE_LENGTH} messages not yet read`));
            return;
          }
          if (isLast(rsp.value)) {
            done();
            stop();
          } else rearm();
        },
        fail: (error) => stop(error),
      });
      // Ends when the last message came, the request failed, or the reader returned.
      await stop;
      forget();
    });
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

  /** Publishes the request and routes its answers to `handlers`; returns the function that forgets it. */
  private send<M extends MType>(
    gatewayId: string,
    mType: M,
    req: RequestOf<M>,
    timeoutMs = this.timeoutMs,
    handlers: {
      onResponse(response: DaemonResponse, done: () => void, rearm: () => void): void;
      fail(error: Error): void;
    },
  ): () => void {
    if (!this.mqtt.connected) {
      handlers.fail(new IqrfUnavailableError(gatewayId, mType));
      return () => undefined;
    }
    let msgId: string;
    try {
      ({ msgId, req } = this.sign(gatewayId, mType, req));
    } catch (error) {
      handlers.fail(error as Error);
      return () => undefined;
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
        if (response.mType === MESSAGE_ERROR || response.data.status !== 0) {
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
    const request: DaemonRequest<RequestOf<M>> = { mType, data: { msgId, req, returnVerbose: false } };
    this.mqtt.publish(topicFor(this.topics.requests, gatewayId), JSON.stringify(request), { qos: 1 }, (error) => {
      if (!error) return;
      const pending = this.pending.get(msgId);
      pending?.fail(new Error(`cannot publish ${mType} to gateway "${gatewayId}": ${error.message}`));
    });
    return done;
  }

  /**
   * A signed msgId for the request. An FRC's claims are its sensor type, index and nodes; its
   * `selectedNodes` are sent ascending and distinct, the order in which the daemon answers them.
   */
  private sign<M extends MType>(gatewayId: string, mType: M, req: RequestOf<M>): { msgId: string; req: RequestOf<M> } {
    if (mType !== MType.SENSOR_FRC) return { msgId: this.msgIds.issue(gatewayId, mType), req };
    const frc = req as FrcRequest;
    const selected = frc.param.selectedNodes ? [...new Set(frc.param.selectedNodes)].sort((a, b) => a - b) : undefined;
    const claims: FrcClaims = {
      sensorType: Number(frc.param.sensorType),
      sensorIndex: Number(frc.param.sensorIndex ?? 0),
      ...(selected ? { nodes: selected } : {}),
    };
    const msgId = this.msgIds.issue(gatewayId, mType, claims);
    return { msgId, req: selected ? ({ ...frc, param: { ...frc.param, selectedNodes: selected } } as RequestOf<M>) : req };
  }

  private handleMessage(topic: string, payload: Buffer, packet: IPublishPacket): void {
    const changed = meshChangedTopics.gatewayOf(topic);
    if (changed !== undefined) {
      for (const listener of this.meshListeners) listener(changed);
      return;
    }
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
    const mType = parsed.value.mType === MESSAGE_ERROR ? pending?.mType : parsed.value.mType;
    if (!pending || pending.gatewayId !== gatewayId || pending.mType !== mType) {
      this.stats.unmatched++;
      return;
    }
    pending.onResponse(parsed.value);
  }
}
