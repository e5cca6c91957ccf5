/**
 * pushwire.js: client-side subscriptions.
 * Part of the client; applications import `pushwire.js`, which re-exports
 * what they need.
 * @module
 */

import { Emitter } from './emitter.js';
import {
  backoffDelay,
  camelInfo,
  connectingCodes,
  errorCodes,
  historyRequest,
  historyResult,
  presenceResult,
  publicationContext,
  PushwireError,
  resubscribeAfterUnsubscribe,
  StreamPosition,
  subscribeErrorAction,
  subscribedContext,
  subscribingCodes,
  unsubscribedCodes,
} from './protocol.js';

// ---------------------------------------------------------------------------
// Subscriptions

/**
 * A client-side subscription to one channel; made by
 * {@link Client#newSubscription}.
 *
 * Events: `state` `{newState, oldState}`, `subscribing` `{channel, code, reason}`,
 * `subscribed` `{channel, recoverable, positioned, streamPosition,
 * wasRecovering, recovered, data}`, `unsubscribed` `{channel, code, reason}`,
 * `publication` `{channel, data, info, offset, tags}`, `join`/`leave`
 * `{channel, info}`, `error` `{channel, type, error}`, and
 * `recoveryFailed` `{channel, streamPosition}` when it resubscribed but the
 * server could not give back what it missed (reload the data).
 */
export class Subscription extends Emitter {
  /**
   * @param {Client} client
   * @param {string} channel
   * @param {object} options `token`, `getToken`, `data`, `since`,
   *   `positioned`, `recoverable`, `joinLeave`, `minResubscribeDelay`,
   *   `maxResubscribeDelay`
   */
  constructor(client, channel, options = {}) {
    super();
    this.client = client;
    /** The channel. */
    this.channel = channel;
    /** `unsubscribed`, `subscribing` or `subscribed`. */
    this.state = 'unsubscribed';
    this._options = { minResubscribeDelay: 500, maxResubscribeDelay: 20000, ...options };
    this._token = options.token || '';
    this._position = new StreamPosition(options.since ?? null);
    this._inFlight = false;
    this._attempt = 0;
    this._timers = { resubscribe: null, refresh: null };
    this._generation = 0;
  }

  /** Where in the stream it is: `{offset, epoch}`, or null before the first recoverable subscribe. */
  get streamPosition() {
    const p = this._position;
    return p.epoch === null ? null : { offset: p.offset ?? 0, epoch: p.epoch };
  }

  _setState(state) {
    if (this.state === state) return false;
    const oldState = this.state;
    this.state = state;
    this.emit('state', { newState: state, oldState });
    return true;
  }

  /** Subscribes now if connected, else once the client connects. */
  subscribe() {
    if (this.state !== 'unsubscribed') return;
    this._attempt = 0;
    this._setState('subscribing');
    this.emit('subscribing', { channel: this.channel, code: subscribingCodes.subscribeCalled, reason: 'subscribe called' });
    if (this.client.state === 'connected') this._sendSubscribe();
  }

  /** Unsubscribes; publications stop. */
  unsubscribe() {
    this._unsubscribed(unsubscribedCodes.unsubscribeCalled, 'unsubscribe called', true);
  }

  /**
   * Resolves once subscribed; rejects if it becomes unsubscribed or after
   * `timeout` ms.
   * @param {number} [timeout]
   */
  ready(timeout) {
    if (this.state === 'subscribed') return Promise.resolve();
    if (this.state === 'unsubscribed') {
      return Promise.reject(new PushwireError(errorCodes.subscriptionUnsubscribed, `${this.channel}: not subscribed`));
    }
    return new Promise((resolve, reject) => {
      let timer = null;
      const done = () => {
        if (timer !== null) clearTimeout(timer);
        this.off('subscribed', onSubscribed);
        this.off('unsubscribed', onUnsubscribed);
      };
      const onSubscribed = () => {
        done();
        resolve();
      };
      const onUnsubscribed = (ctx) => {
        done();
        reject(new PushwireError(errorCodes.subscriptionUnsubscribed, `${this.channel}: unsubscribed (${ctx.reason})`));
      };
      this.on('subscribed', onSubscribed);
      this.on('unsubscribed', onUnsubscribed);
      if (timeout) {
        timer = setTimeout(() => {
          done();
          reject(new PushwireError(errorCodes.timeout, `${this.channel}: not subscribed within ${timeout} ms`));
        }, timeout);
      }
    });
  }

  async _whenSubscribed() {
    await this.ready(this.client._options.timeout);
    await this.client._whenConnected();
  }

  /** Publishes `data` into the channel; resolves `{}` once the server took it. */
  async publish(data) {
    await this._whenSubscribed();
    await this.client._request({ publish: { channel: this.channel, data } });
    return {};
  }

  /** Who is subscribed: `{clients: {id: {user, client, connInfo, chanInfo}}}`. */
  async presence() {
    await this._whenSubscribed();
    return presenceResult(await this.client._request({ presence: { channel: this.channel } }));
  }

  /** How many are subscribed: `{numClients, numUsers}`. */
  async presenceStats() {
    await this._whenSubscribed();
    const result = await this.client._request({ presence_stats: { channel: this.channel } });
    return { numClients: result.num_clients ?? 0, numUsers: result.num_users ?? 0 };
  }

  /**
   * The channel's history: `{publications, offset, epoch}`; options
   * `limit` (-1: all the server allows), `since` `{offset, epoch}`, `reverse`.
   */
  async history(options = {}) {
    await this._whenSubscribed();
    return historyResult(await this.client._request({ history: historyRequest(this.channel, options) }));
  }

  // -- driven by the client ------------------------------------------------------

  _wantsSubscribe() {
    return this.state === 'subscribing' && this._timers.resubscribe === null;
  }

  _handlesPushes() {
    return this.state !== 'unsubscribed';
  }

  /** The subscribe command, with a fresh id registered; null while a token is missing. */
  _subscribeCommand() {
    if (!this._token && this._options.getToken) {
      this._fetchToken();
      return null;
    }
    const req = { channel: this.channel };
    if (this._token) req.token = this._token;
    if (this._options.data !== undefined) req.data = this._options.data;
    if (this._options.positioned) req.positioned = true;
    if (this._options.recoverable) req.recoverable = true;
    if (this._options.joinLeave) req.join_leave = true;
    Object.assign(req, this._position.subscribeFields());
    const id = this.client._nextId++;
    this._inFlight = true;
    const generation = ++this._generation;
    const timeout = this.client._options.timeout;
    const timer = setTimeout(() => {
      this.client._pending.delete(id);
      if (generation !== this._generation) return;
      this._inFlight = false;
      this.emit('error', {
        channel: this.channel,
        type: 'subscribeTimeout',
        error: new PushwireError(errorCodes.timeout, `subscribe to ${this.channel} timed out after ${timeout} ms`),
      });
      // The connection is in doubt: reconnect, as centrifuge-js does.
      const client = this.client;
      if (client._conn) {
        client._conn.close();
        client._transportLost({ code: connectingCodes.subscribeTimeout, reason: 'subscribe timeout' });
      }
    }, timeout);
    this.client._pending.set(id, {
      method: 'subscribe',
      timer,
      resolve: (result) => {
        if (generation === this._generation) this._subscribed(result);
      },
      reject: (error) => {
        if (generation === this._generation) this._subscribeFailed(error);
      },
    });
    return { id, subscribe: req };
  }

  _sendSubscribe() {
    const cmd = this._subscribeCommand();
    if (cmd) this.client._enqueue(cmd);
  }

  async _fetchToken() {
    if (this._fetchingToken) return;
    this._fetchingToken = true;
    let token;
    try {
      token = await this._options.getToken({ channel: this.channel });
    } catch (e) {
      this._fetchingToken = false;
      this.emit('error', {
        channel: this.channel,
        type: 'subscribeToken',
        error: new PushwireError(errorCodes.subscriptionSubscribeToken, `getToken failed: ${e?.message ?? e}`),
      });
      this._scheduleResubscribe();
      return;
    }
    this._fetchingToken = false;
    if (this.state !== 'subscribing') return;
    if (!token) {
      this._unsubscribed(unsubscribedCodes.unauthorized, 'unauthorized', false);
      return;
    }
    this._token = token;
    if (this.client.state === 'connected' && !this._inFlight && this._timers.resubscribe === null) this._sendSubscribe();
  }

  _subscribed(result) {
    this._inFlight = false;
    this._attempt = 0;
    this._position.subscribed(result);
    this._setState('subscribed');
    const ctx = subscribedContext(this.channel, result);
    this.emit('subscribed', ctx);
    for (const pub of result.publications || []) {
      if (this._position.admit(pub.offset)) this.emit('publication', publicationContext(this.channel, pub));
    }
    if (ctx.wasRecovering && !ctx.recovered) {
      this.emit('recoveryFailed', { channel: this.channel, streamPosition: ctx.streamPosition });
    }
    if (result.expires) this._scheduleRefresh(result.ttl ?? 0);
  }

  _subscribeFailed(error) {
    this._inFlight = false;
    if (error.code === errorCodes.transportClosed || error.code === errorCodes.clientDisconnected) {
      return; // the client resubscribes after it reconnects
    }
    this.emit('error', { channel: this.channel, type: 'subscribe', error });
    const action = subscribeErrorAction(error);
    if (action === 'unsubscribe') {
      this._unsubscribed(error.code, error.message, false);
      return;
    }
    if (action === 'refreshToken') this._token = '';
    this._scheduleResubscribe();
  }

  _scheduleResubscribe() {
    if (this._timers.resubscribe !== null) return;
    const delay = backoffDelay(this._attempt, this._options.minResubscribeDelay, this._options.maxResubscribeDelay);
    this._attempt += 1;
    this._timers.resubscribe = setTimeout(() => {
      this._timers.resubscribe = null;
      if (this.state === 'subscribing' && this.client.state === 'connected') this._sendSubscribe();
    }, delay);
  }

  _connectionLost(code, reason) {
    this._generation += 1;
    this._inFlight = false;
    this._clear('refresh');
    if (this.state === 'subscribed') {
      this._setState('subscribing');
      this.emit('subscribing', { channel: this.channel, code, reason });
    }
  }

  _clear(name) {
    if (this._timers[name] !== null) {
      clearTimeout(this._timers[name]);
      this._timers[name] = null;
    }
  }

  _unsubscribed(code, reason, tellServer) {
    if (this.state === 'unsubscribed') return;
    const wasSubscribed = this.state === 'subscribed';
    this._generation += 1;
    this._inFlight = false;
    this._clear('resubscribe');
    this._clear('refresh');
    this._setState('unsubscribed');
    if (tellServer && wasSubscribed && this.client.state === 'connected') {
      this.client._request({ unsubscribe: { channel: this.channel } }).catch(() => {});
    }
    this.emit('unsubscribed', { channel: this.channel, code, reason });
  }

  _push(push) {
    if (push.pub) {
      if (this.state !== 'subscribed') return;
      if (this._position.admit(push.pub.offset)) this.emit('publication', publicationContext(this.channel, push.pub));
    } else if (push.join) {
      this.emit('join', { channel: this.channel, info: camelInfo(push.join.info) });
    } else if (push.leave) {
      this.emit('leave', { channel: this.channel, info: camelInfo(push.leave.info) });
    } else if (push.unsubscribe) {
      const { code = 0, reason = '' } = push.unsubscribe;
      if (resubscribeAfterUnsubscribe(code)) {
        if (code === 2501) this._token = '';
        if (code === 2502) {
          this._token = '';
          this._position.reset();
        }
        this._generation += 1;
        this._inFlight = false;
        this._setState('subscribing');
        this.emit('subscribing', { channel: this.channel, code, reason });
        this._scheduleResubscribe();
      } else {
        this._unsubscribed(code, reason, false);
      }
    }
  }

  // -- subscription token refresh ----------------------------------------------

  _scheduleRefresh(ttl) {
    this._clear('refresh');
    if (!this._options.getToken) return;
    this._timers.refresh = setTimeout(() => {
      this._timers.refresh = null;
      this._refresh();
    }, Math.max(ttl, 0) * 1000);
  }

  async _refresh() {
    const generation = this._generation;
    let token;
    try {
      token = await this._options.getToken({ channel: this.channel });
    } catch (e) {
      if (generation !== this._generation) return;
      this.emit('error', {
        channel: this.channel,
        type: 'refreshToken',
        error: new PushwireError(errorCodes.subscriptionRefreshToken, `getToken failed: ${e?.message ?? e}`),
      });
      this._timers.refresh = setTimeout(() => this._refresh(), backoffDelay(0, 10000, 20000));
      return;
    }
    if (generation !== this._generation || this.state !== 'subscribed') return;
    if (!token) {
      this._unsubscribed(unsubscribedCodes.unauthorized, 'unauthorized', true);
      return;
    }
    this._token = token;
    try {
      const result = await this.client._request({ sub_refresh: { channel: this.channel, token } });
      if (generation !== this._generation) return;
      if (result.expires) this._scheduleRefresh(result.ttl ?? 0);
    } catch (e) {
      if (generation !== this._generation) return;
      this.emit('error', { channel: this.channel, type: 'refresh', error: e });
      if (e.code < 100 || e.temporary) {
        this._timers.refresh = setTimeout(() => this._refresh(), backoffDelay(0, 10000, 20000));
      } else {
        this._unsubscribed(unsubscribedCodes.unauthorized, `refresh refused: ${e.message}`, true);
      }
    }
  }
}
