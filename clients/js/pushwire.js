/**
 * pushwire.js — the browser (and Node) client of pushwire's hub.
 *
 * It speaks the hub's client protocol (Centrifugo's protocol v2 in JSON) over
 * WebSocket, HTTP streaming or Server-Sent Events, picking the first that
 * works, and keeps the application's subscriptions whole across reconnects:
 * each subscription resubscribes from the last offset it saw and says when
 * the server could not give back what it missed.
 *
 * Plain ES modules (this file and `pushwire/*.js`, which it imports), no
 * build step, no runtime dependency. The API follows
 * centrifuge-js (`new Client(url)`, `client.newSubscription(channel)`, the
 * same event names and contexts), so code moves between the two.
 *
 * ```js
 * import { Client } from '/pushwire.js';
 * const client = new Client('/', { getToken: () => fetch('/token').then((r) => r.text()) });
 * const sub = client.newSubscription('chat:lobby');
 * sub.on('publication', (ctx) => show(ctx.data));
 * sub.on('recoveryFailed', () => reloadMessages());
 * sub.subscribe();
 * client.connect();
 * ```
 *
 * @module pushwire
 */

import { Emitter } from './pushwire/emitter.js';
import {
  backoffDelay,
  batchCommands,
  camelInfo,
  connectErrorAction,
  connectingCodes,
  decodeFrame,
  disconnectedCodes,
  encodeCommands,
  errorCodes,
  historyRequest,
  historyResult,
  presenceResult,
  publicationContext,
  PushwireError,
  reconnectAfterClose,
  replyError,
  StreamPosition,
  subscribedContext,
  subscribingCodes,
  utf8Length,
} from './pushwire/protocol.js';
import { Subscription } from './pushwire/subscription.js';
import { DEFAULT_TRANSPORTS, endpointUnder, hubBase, transportPlan } from './pushwire/transports.js';

export {
  backoffDelay,
  batchCommands,
  utf8Length,
  connectErrorAction,
  connectingCodes,
  decodeFrame,
  disconnectedCodes,
  encodeCommands,
  errorCodes,
  EventStreamDecoder,
  LineDecoder,
  PushwireError,
  reconnectAfterClose,
  resubscribeAfterUnsubscribe,
  StreamPosition,
  subscribeErrorAction,
  subscribingCodes,
  unsubscribedCodes,
} from './pushwire/protocol.js';
export { Subscription } from './pushwire/subscription.js';
export {
  DEFAULT_TRANSPORTS,
  endpointUnder,
  HttpStreamTransport,
  hubBase,
  registerTransport,
  SseTransport,
  transportPlan,
  WebSocketTransport,
} from './pushwire/transports.js';

/** This client's version. */
export const VERSION = '0.1.0';

// ---------------------------------------------------------------------------
// The environment

function envFrom(options) {
  return {
    WebSocket: options.websocket ?? globalThis.WebSocket,
    fetch: options.fetch ?? (globalThis.fetch ? globalThis.fetch.bind(globalThis) : undefined),
    EventSource: options.eventsource ?? globalThis.EventSource,
    emulationEndpoint: '',
    maxMessageSize: options.maxMessageSize,
    maxBatchBytes: options.maxBatchBytes,
  };
}

// ---------------------------------------------------------------------------
// The client

/** The client's default options (every one can be passed to the constructor). */
export const DEFAULT_OPTIONS = Object.freeze({
  token: '',
  getToken: null,
  data: undefined,
  getData: null,
  name: 'pushwire.js',
  version: '',
  transports: DEFAULT_TRANSPORTS,
  websocket: null,
  fetch: null,
  eventsource: null,
  emulationEndpoint: '',
  timeout: 5000,
  minReconnectDelay: 500,
  maxReconnectDelay: 20000,
  maxServerPingDelay: 10000,
  maxMessageSize: 16 << 20,
  maxBatchBytes: 32 << 10,
  debug: false,
});

/**
 * A connection to pushwire's hub, kept up across failures.
 *
 * Events: `state` `{newState, oldState}`, `connecting` `{code, reason}`,
 * `connected` `{client, transport, data}`, `disconnected` `{code, reason}`,
 * `error` `{type, error}`, `message` `{data}`; for server-side
 * subscriptions `subscribing`, `subscribed`, `unsubscribed`, `publication`,
 * `join`, `leave` (each with `channel`).
 */
export class Client extends Emitter {
  /**
   * @param {string} url the hub: `ws(s)://host/connection/websocket`,
   *   `http(s)://host`, or (in a page) a path such as `/`
   * @param {Partial<typeof DEFAULT_OPTIONS>} [options]
   */
  constructor(url, options = {}) {
    super();
    this._options = { ...DEFAULT_OPTIONS, ...options };
    const o = this._options;
    this._base = hubBase(url ?? '/');
    this._env = envFrom(o);
    this._env.emulationEndpoint = o.emulationEndpoint || endpointUnder(this._base, '/emulation');
    const wanted = typeof o.transports === 'string' ? [o.transports] : o.transports;
    this._plan = transportPlan(this._base, wanted, this._env);
    if (this._plan.length === 0) {
      throw new PushwireError(
        errorCodes.badConfiguration,
        `none of the transports ${JSON.stringify(wanted)} is available here (WebSocket, fetch with streams or EventSource)`,
      );
    }
    /** `disconnected`, `connecting` or `connected`. */
    this.state = 'disconnected';
    /** Why the client is in its state: `{code, reason}`. */
    this.stateReason = { code: disconnectedCodes.disconnectCalled, reason: 'not connected yet' };
    /** The client ID the server gave this connection. */
    this.clientId = null;
    /** The name of the transport in use, or last used. */
    this.transport = null;
    /** @type {Map<string, Subscription>} */
    this._subs = new Map();
    /** Server-side subscriptions: channel → StreamPosition. */
    this._serverSubs = new Map();
    this._token = o.token || '';
    this._nextId = 1;
    /** id → {resolve, reject, timer, method} */
    this._pending = new Map();
    /** Commands waiting for the end of this tick (or for the connection). */
    this._outbox = [];
    this._flushScheduled = false;
    this._conn = null;
    this._session = '';
    this._node = '';
    this._attempt = 0;
    this._remembered = null;
    this._tried = new Set();
    this._generation = 0;
    this._timers = { reconnect: null, open: null, ping: null, refresh: null };
    this._pongs = false;
    this._pingInterval = 0;
    this._lastReceived = 0;
    /** The id of the connect command awaiting its reply. */
    this._connectId = null;
    /** Index in the plan of the transport in use. */
    this._connIndex = null;
    /** The transport in use got its connect reply. */
    this._connectedOnConn = false;
    // The browser says the network is gone: do not wait for the ping
    // timeout to notice; reconnect (at once when it is back, below).
    this._onOffline = () => {
      if (this._conn === null) return;
      this._transportLost({ code: connectingCodes.transportClosed, reason: 'offline' });
    };
    this._onOnline = () => {
      if (this.state === 'connecting' && this._timers.reconnect !== null) {
        clearTimeout(this._timers.reconnect);
        this._timers.reconnect = null;
        this._attempt = 0;
        this._openNext();
      }
    };
  }

  _debug(...args) {
    if (this._options.debug) console.debug('pushwire:', ...args);
  }

  _setState(state, code, reason) {
    this.stateReason = { code, reason };
    if (this.state === state) return false;
    const oldState = this.state;
    this.state = state;
    this.emit('state', { newState: state, oldState });
    return true;
  }

  /** Connects (or keeps connecting); events say how it goes. */
  connect() {
    if (this.state !== 'disconnected') return;
    this._setState('connecting', connectingCodes.connectCalled, 'connect called');
    this.emit('connecting', { code: connectingCodes.connectCalled, reason: 'connect called' });
    globalThis.addEventListener?.('online', this._onOnline);
    globalThis.addEventListener?.('offline', this._onOffline);
    this._attempt = 0;
    this._tried.clear();
    this._openNext();
  }

  /** Disconnects and stays disconnected until `connect()`. */
  disconnect() {
    this._stop(disconnectedCodes.disconnectCalled, 'disconnect called');
  }

  /**
   * Resolves once connected; rejects if the client is or becomes
   * disconnected, or after `timeout` ms.
   * @param {number} [timeout]
   */
  ready(timeout) {
    if (this.state === 'connected') return Promise.resolve();
    if (this.state === 'disconnected') {
      return Promise.reject(new PushwireError(errorCodes.clientDisconnected, 'client disconnected'));
    }
    return new Promise((resolve, reject) => {
      let timer = null;
      const done = () => {
        if (timer !== null) clearTimeout(timer);
        this.off('connected', onConnected);
        this.off('disconnected', onDisconnected);
      };
      const onConnected = () => {
        done();
        resolve();
      };
      const onDisconnected = () => {
        done();
        reject(new PushwireError(errorCodes.clientDisconnected, 'client disconnected'));
      };
      this.on('connected', onConnected);
      this.on('disconnected', onDisconnected);
      if (timeout) {
        timer = setTimeout(() => {
          done();
          reject(new PushwireError(errorCodes.timeout, `not connected within ${timeout} ms`));
        }, timeout);
      }
    });
  }

  /**
   * A new subscription to `channel` (not subscribed yet: call
   * `subscribe()`). Throws if this client has one for the channel already.
   * @param {string} channel
   * @param {object} [options]
   */
  newSubscription(channel, options = {}) {
    if (this._subs.has(channel)) {
      throw new PushwireError(errorCodes.badConfiguration, `a subscription to ${channel} exists already`);
    }
    const sub = new Subscription(this, channel, options);
    this._subs.set(channel, sub);
    return sub;
  }

  /** The subscription to `channel`, or null. @param {string} channel */
  getSubscription(channel) {
    return this._subs.get(channel) ?? null;
  }

  /** Unsubscribes `sub` and forgets it. @param {Subscription} sub */
  removeSubscription(sub) {
    if (!sub) return;
    if (sub.state !== 'unsubscribed') sub.unsubscribe();
    if (this._subs.get(sub.channel) === sub) this._subs.delete(sub.channel);
  }

  /** Every subscription of this client, by channel. */
  subscriptions() {
    return Object.fromEntries(this._subs);
  }

  /** Calls the server's RPC `method`; resolves `{data}`. */
  async rpc(method, data) {
    const result = await this._call({ rpc: { method, data } });
    return { data: result.data };
  }

  /** Sends `data` to the server without waiting for an answer. */
  async send(data) {
    await this._whenConnected();
    this._enqueue({ send: { data } });
  }

  /** Publishes `data` into `channel`; resolves `{}` once the server took it. */
  async publish(channel, data) {
    await this._call({ publish: { channel, data } });
    return {};
  }

  /** The history of `channel`: `{publications, offset, epoch}`. */
  async history(channel, options = {}) {
    return historyResult(await this._call({ history: historyRequest(channel, options) }));
  }

  /** Who is subscribed to `channel`: `{clients: {id: {user, client, connInfo, chanInfo}}}`. */
  async presence(channel) {
    return presenceResult(await this._call({ presence: { channel } }));
  }

  /** How many are subscribed to `channel`: `{numClients, numUsers}`. */
  async presenceStats(channel) {
    const result = await this._call({ presence_stats: { channel } });
    return { numClients: result.num_clients ?? 0, numUsers: result.num_users ?? 0 };
  }

  // -- commands ------------------------------------------------------------

  _whenConnected() {
    if (this.state === 'connected') return Promise.resolve();
    return this.ready(this._options.timeout);
  }

  /**
   * Sends `command` once connected and resolves with its result (the value
   * under the command's method key), or rejects with the reply's error,
   * or with a timeout after `timeout` ms.
   */
  async _call(command) {
    await this._whenConnected();
    return this._request(command);
  }

  /** Queues `command` with a fresh id now; resolves with its result. */
  _request(command, { timeout = this._options.timeout, onTimeout = null } = {}) {
    const method = Object.keys(command)[0];
    const id = this._nextId++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this._pending.delete(id);
        const error = new PushwireError(errorCodes.timeout, `${method} timed out after ${timeout} ms`);
        reject(error);
        if (onTimeout) onTimeout(error);
      }, timeout);
      this._pending.set(id, { resolve, reject, timer, method });
      this._enqueue({ id, ...command });
    });
  }

  /** Adds `command` to the frame sent at the end of this tick. */
  _enqueue(command) {
    this._outbox.push(command);
    if (this._flushScheduled) return;
    this._flushScheduled = true;
    queueMicrotask(() => this._flush());
  }

  _flush() {
    this._flushScheduled = false;
    if (this.state !== 'connected' || this._conn === null || this._outbox.length === 0) return;
    const commands = this._outbox;
    this._outbox = [];
    for (const frame of batchCommands(commands, this._options.maxBatchBytes)) {
      if (this._conn === null) return;
      this._write(frame);
    }
  }

  /** Sends one frame of commands on the transport. @param {string} text */
  _write(text) {
    this._debug('send', text);
    try {
      if (this._conn.emulation) this._conn.send(text, this._session, this._node);
      else this._conn.send(text);
    } catch (e) {
      this._transportLost({ code: errorCodes.transportWriteError, reason: `write failed: ${e.message}` });
    }
  }

  _rejectPending(code, reason) {
    const pending = this._pending;
    this._pending = new Map();
    for (const p of pending.values()) {
      clearTimeout(p.timer);
      p.reject(new PushwireError(code, reason));
    }
    // Commands queued for a connection that is gone: only those with an id
    // had callers, and they were just rejected.
    this._outbox = [];
  }

  // -- connecting ------------------------------------------------------------

  _clearTimer(name) {
    if (this._timers[name] !== null) {
      clearTimeout(this._timers[name]);
      this._timers[name] = null;
    }
  }

  /** The index in the plan of the transport to try next in this round. */
  _nextTransport() {
    const order = this._plan.map((_, i) => i);
    if (this._remembered !== null) {
      order.splice(order.indexOf(this._remembered), 1);
      order.unshift(this._remembered);
    }
    return order.find((i) => !this._tried.has(i)) ?? null;
  }

  async _openNext() {
    this._clearTimer('reconnect');
    const generation = ++this._generation;
    if (!this._token && this._options.getToken) {
      try {
        const token = await this._options.getToken({});
        if (generation !== this._generation) return;
        if (!token) {
          this._stop(disconnectedCodes.unauthorized, 'unauthorized');
          return;
        }
        this._token = token;
      } catch (e) {
        if (generation !== this._generation) return;
        this.emit('error', {
          type: 'connectToken',
          error: new PushwireError(errorCodes.clientConnectToken, `getToken failed: ${e?.message ?? e}`),
        });
        this._scheduleReconnect();
        return;
      }
    }
    let data = this._options.data;
    if (this._options.getData) {
      try {
        data = await this._options.getData();
      } catch (e) {
        if (generation !== this._generation) return;
        this.emit('error', { type: 'connectData', error: e });
        this._scheduleReconnect();
        return;
      }
      if (generation !== this._generation) return;
    }
    let index = this._nextTransport();
    if (index === null) {
      // Every transport was tried in this round: start the next one.
      this._tried.clear();
      index = this._nextTransport();
    }
    const plan = this._plan[index];
    this._tried.add(index);
    const conn = new plan.Transport(plan.endpoint, this._env);
    this._conn = conn;
    this._connIndex = index;
    this._connectedOnConn = false;
    this.transport = plan.name;
    this._debug('opening', plan.name, plan.endpoint);

    const connect = {};
    if (this._token) connect.token = this._token;
    if (data !== undefined) connect.data = data;
    if (this._options.name) connect.name = this._options.name;
    if (this._options.version) connect.version = this._options.version;
    const subs = {};
    for (const [channel, position] of this._serverSubs) {
      const fields = position.subscribeFields();
      if (fields.recover) subs[channel] = fields;
    }
    if (Object.keys(subs).length) connect.subs = subs;
    const connectId = this._nextId++;
    const frame = [{ id: connectId, connect }];
    // Over WebSocket the subscribes ride in the connect's frame; emulated
    // transports send them once the connect reply gave the session.
    const optimistic = [];
    if (!conn.emulation) {
      for (const sub of this._subs.values()) {
        if (sub._wantsSubscribe()) optimistic.push(sub);
      }
    }
    this._connectId = connectId;
    let size = utf8Length(JSON.stringify(frame[0]));
    for (const sub of optimistic) {
      const cmd = sub._subscribeCommand();
      if (!cmd) continue;
      const bytes = utf8Length(JSON.stringify(cmd)) + 1;
      if (size + bytes > this._options.maxBatchBytes) {
        // No room in the connect's frame: it leaves once connected.
        this._outbox.push(cmd);
        continue;
      }
      size += bytes;
      frame.push(cmd);
    }

    this._timers.open = setTimeout(() => {
      this._timers.open = null;
      if (this._conn !== conn) return;
      conn.close();
      this._transportLost({ code: errorCodes.timeout, reason: `${plan.name}: no connect reply within ${this._options.timeout} ms` });
    }, this._options.timeout);

    conn.open(encodeCommands(frame), {
      onOpen: () => this._debug('open', plan.name),
      onMessage: (text) => {
        if (this._conn === conn) this._receive(text);
      },
      onClose: (ctx) => {
        if (this._conn === conn) this._transportLost(ctx);
      },
      onRefused: (text, status) => {
        if (this._conn === conn) this._refused(text, status);
      },
    });
  }

  /** Fails the commands in `text` that the server refused with HTTP `status`. */
  _refused(text, status) {
    const why = status === 413 ? 'larger than the server takes' : 'refused';
    for (const line of text.split('\n')) {
      let command;
      try {
        command = JSON.parse(line);
      } catch {
        continue;
      }
      const pending = command?.id ? this._pending.get(command.id) : undefined;
      if (!pending) continue;
      this._pending.delete(command.id);
      clearTimeout(pending.timer);
      pending.reject(new PushwireError(errorCodes.transportWriteError, `${pending.method}: ${why} (HTTP ${status})`));
    }
  }

  _scheduleReconnect() {
    this._clearTimer('reconnect');
    const delay = backoffDelay(this._attempt, this._options.minReconnectDelay, this._options.maxReconnectDelay);
    this._attempt += 1;
    this._tried.clear();
    this._debug('reconnect in', delay, 'ms');
    this._timers.reconnect = setTimeout(() => {
      this._timers.reconnect = null;
      if (this.state === 'connecting') this._openNext();
    }, delay);
  }

  _dropConnection() {
    for (const name of ['open', 'ping', 'refresh']) this._clearTimer(name);
    if (this._conn !== null) {
      this._conn.close();
      this._conn = null;
    }
    this._session = '';
    this._node = '';
    this.clientId = null;
  }

  /**
   * The transport closed (or failed to open, or the server said
   * disconnect): try the next transport at once if this one never
   * connected, reconnect with backoff, or stop, by the close code.
   */
  _transportLost({ code, reason }) {
    const wasConnected = this._connectedOnConn;
    this._debug('transport lost', code, reason);
    this._dropConnection();
    this._rejectPending(errorCodes.transportClosed, `transport closed: ${reason}`);
    if (this.state === 'disconnected') return;
    if (!reconnectAfterClose(code)) {
      const why = code === 1009 ? disconnectedCodes.messageSizeLimit : code;
      this._stop(why, reason);
      return;
    }
    this._subsLost(subscribingCodes.transportClosed, 'transport closed');
    if (this.state === 'connected') {
      this._setState('connecting', code, reason);
      this.emit('connecting', { code, reason });
    } else {
      this.stateReason = { code, reason };
    }
    if (!wasConnected && this._nextTransport() !== null) {
      this._openNext();
      return;
    }
    this._scheduleReconnect();
  }

  /** Every subscription goes back to subscribing; the next connect resubscribes. */
  _subsLost(code, reason) {
    for (const sub of this._subs.values()) sub._connectionLost(code, reason);
    for (const channel of this._serverSubs.keys()) {
      this.emit('subscribing', { channel, code, reason });
    }
  }

  _stop(code, reason) {
    globalThis.removeEventListener?.('online', this._onOnline);
    globalThis.removeEventListener?.('offline', this._onOffline);
    this._generation += 1;
    this._clearTimer('reconnect');
    this._dropConnection();
    this._rejectPending(errorCodes.clientDisconnected, `client disconnected: ${reason}`);
    if (this.state === 'disconnected') {
      this.stateReason = { code, reason };
      return;
    }
    this._subsLost(subscribingCodes.transportClosed, 'client disconnected');
    this._setState('disconnected', code, reason);
    this.emit('disconnected', { code, reason });
  }

  // -- receiving -------------------------------------------------------------

  _receive(text) {
    this._debug('receive', text);
    this._armPingWatchdog();
    let messages;
    try {
      messages = decodeFrame(text);
    } catch (e) {
      this._stop(disconnectedCodes.badProtocol, e.message);
      return;
    }
    for (const message of messages) {
      if (this._conn === null) return;
      if (message.id) this._reply(message);
      else if (message.push) this._push(message.push);
      else this._ping();
    }
  }

  _reply(reply) {
    if (reply.id === this._connectId) {
      this._connectId = null;
      if (reply.error) this._connectFailed(reply.error);
      else this._connected(reply.connect || {});
      return;
    }
    const pending = this._pending.get(reply.id);
    if (!pending) return;
    this._pending.delete(reply.id);
    clearTimeout(pending.timer);
    if (reply.error) pending.reject(replyError(reply.error));
    else pending.resolve(reply[pending.method] ?? {});
  }

  _ping() {
    if (this._pongs && this.state === 'connected') this._enqueue({});
  }

  /**
   * Reconnects when nothing arrived for the announced ping interval plus
   * `maxServerPingDelay`. Each message only stamps the time; the one timer
   * re-arms itself for what is left.
   */
  _armPingWatchdog() {
    this._lastReceived = Date.now();
    if (this._timers.ping !== null || !this._pingInterval || this.state !== 'connected') return;
    const conn = this._conn;
    const limit = this._pingInterval * 1000 + this._options.maxServerPingDelay;
    const check = () => {
      this._timers.ping = null;
      if (this._conn !== conn) return;
      const quiet = Date.now() - this._lastReceived;
      if (quiet < limit) {
        this._timers.ping = setTimeout(check, limit - quiet);
        return;
      }
      this._transportLost({ code: connectingCodes.noPing, reason: 'no ping' });
    };
    this._timers.ping = setTimeout(check, limit);
  }

  _connectFailed(error) {
    this._clearTimer('open');
    // The transport carried a reply: it works here.
    this._remembered = this._connIndex;
    const err = replyError(error);
    this.emit('error', { type: 'connect', error: err });
    const action = connectErrorAction(error);
    if (action === 'stop') {
      this._stop(error.code, error.message || 'connect refused');
      return;
    }
    if (action === 'refreshToken') {
      if (!this._options.getToken) {
        this._stop(disconnectedCodes.unauthorized, 'token expired and no getToken to refresh it');
        return;
      }
      this._token = '';
    }
    this._dropConnection();
    this._rejectPending(errorCodes.transportClosed, 'connect failed');
    this._subsLost(subscribingCodes.transportClosed, 'connect failed');
    this.stateReason = { code: error.code, reason: error.message };
    this._scheduleReconnect();
  }

  _connected(result) {
    this._clearTimer('open');
    this._connectedOnConn = true;
    this._remembered = this._connIndex;
    this._attempt = 0;
    this._tried.clear();
    this.clientId = result.client ?? null;
    this._session = result.session ?? '';
    this._node = result.node ?? '';
    this._pingInterval = result.ping ?? 0;
    this._pongs = !!result.pong;
    this._setState('connected', 0, 'connected');
    this._armPingWatchdog();
    if (result.expires) this._scheduleRefresh(result.ttl ?? 0);
    const ctx = { client: this.clientId, transport: this.transport };
    if (result.data !== undefined) ctx.data = result.data;
    this.emit('connected', ctx);
    this._serverSubscriptions(result.subs || {});
    for (const sub of this._subs.values()) {
      if (sub._wantsSubscribe() && !sub._inFlight) sub._sendSubscribe();
    }
    this._flush();
  }

  _serverSubscriptions(subs) {
    const before = new Set(this._serverSubs.keys());
    for (const [channel, result] of Object.entries(subs)) {
      before.delete(channel);
      this._serverSubscribed(channel, result);
    }
    for (const channel of before) {
      this._serverSubs.delete(channel);
      this.emit('unsubscribed', { channel, code: 0, reason: 'not subscribed after reconnect' });
    }
  }

  _serverSubscribed(channel, result) {
    let position = this._serverSubs.get(channel);
    if (!position) {
      position = new StreamPosition();
      this._serverSubs.set(channel, position);
    }
    position.subscribed(result);
    const ctx = subscribedContext(channel, result);
    this.emit('subscribed', ctx);
    for (const pub of result.publications || []) {
      if (position.admit(pub.offset)) this.emit('publication', publicationContext(channel, pub));
    }
    if (ctx.wasRecovering && !ctx.recovered) this.emit('recoveryFailed', { channel, streamPosition: ctx.streamPosition });
  }

  _push(push) {
    const channel = push.channel ?? '';
    if (push.disconnect) {
      const { code = 0, reason = 'disconnected' } = push.disconnect;
      this._transportLost({ code, reason });
      return;
    }
    if (push.message) {
      this.emit('message', { data: push.message.data });
      return;
    }
    const sub = this._subs.get(channel);
    if (sub && sub._handlesPushes()) {
      sub._push(push);
      return;
    }
    if (push.subscribe) {
      this._serverSubscribed(channel, push.subscribe);
      return;
    }
    const position = this._serverSubs.get(channel);
    if (!position) return;
    if (push.pub) {
      if (position.admit(push.pub.offset)) this.emit('publication', publicationContext(channel, push.pub));
    } else if (push.join) {
      this.emit('join', { channel, info: camelInfo(push.join.info) });
    } else if (push.leave) {
      this.emit('leave', { channel, info: camelInfo(push.leave.info) });
    } else if (push.unsubscribe) {
      this._serverSubs.delete(channel);
      this.emit('unsubscribed', { channel, code: push.unsubscribe.code ?? 0, reason: push.unsubscribe.reason ?? '' });
    }
  }

  // -- connection token refresh ------------------------------------------------

  _scheduleRefresh(ttl) {
    this._clearTimer('refresh');
    if (!this._options.getToken) return;
    this._timers.refresh = setTimeout(() => {
      this._timers.refresh = null;
      this._refresh();
    }, Math.max(ttl, 0) * 1000);
  }

  async _refresh() {
    const conn = this._conn;
    let token;
    try {
      token = await this._options.getToken({});
    } catch (e) {
      if (this._conn !== conn) return;
      this.emit('error', {
        type: 'refreshToken',
        error: new PushwireError(errorCodes.clientRefreshToken, `getToken failed: ${e?.message ?? e}`),
      });
      this._retryRefresh();
      return;
    }
    if (this._conn !== conn || this.state !== 'connected') return;
    if (!token) {
      this._stop(disconnectedCodes.unauthorized, 'unauthorized');
      return;
    }
    this._token = token;
    try {
      const result = await this._request({ refresh: { token } });
      if (result.expires) this._scheduleRefresh(result.ttl ?? 0);
    } catch (e) {
      if (this._conn !== conn) return;
      this.emit('error', { type: 'refresh', error: e });
      if (e.code < 100 || e.temporary) this._retryRefresh();
      else this._stop(disconnectedCodes.unauthorized, `refresh refused: ${e.message}`);
    }
  }

  _retryRefresh() {
    this._clearTimer('refresh');
    this._timers.refresh = setTimeout(() => {
      this._timers.refresh = null;
      this._refresh();
    }, backoffDelay(0, 10000, 20000));
  }
}

export default Client;
