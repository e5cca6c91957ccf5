/**
 * pushwire.js — the browser (and Node) client of pushwire's hub.
 *
 * It speaks the hub's client protocol (Centrifugo's protocol v2 in JSON) over
 * WebSocket, HTTP streaming or Server-Sent Events, picking the first that
 * works, and keeps the application's subscriptions whole across reconnects:
 * each subscription resubscribes from the last offset it saw and says when
 * the server could not give back what it missed.
 *
 * One ES module, no build step, no runtime dependency. The API follows
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

/** This client's version. */
export const VERSION = '0.1.0';

// ---------------------------------------------------------------------------
// Errors and codes

/**
 * An error from the server (a reply's `error`: `code` ≥ 100) or from the
 * client itself (`code` < 100, see {@link errorCodes}).
 */
export class PushwireError extends Error {
  /**
   * @param {number} code
   * @param {string} message
   * @param {boolean} [temporary]
   */
  constructor(code, message, temporary = false) {
    super(message);
    this.name = 'PushwireError';
    /** The error code: < 100 client-side, ≥ 100 from the server. */
    this.code = code;
    /** The server marked it temporary: retrying may succeed. */
    this.temporary = temporary;
  }
}

/** Client-side error codes (below 100; the server's start at 100). */
export const errorCodes = Object.freeze({
  timeout: 1,
  transportClosed: 2,
  clientDisconnected: 3,
  clientClosed: 4,
  clientConnectToken: 5,
  clientRefreshToken: 6,
  subscriptionUnsubscribed: 7,
  subscriptionSubscribeToken: 8,
  subscriptionRefreshToken: 9,
  transportWriteError: 10,
  connectionClosed: 11,
  badConfiguration: 12,
});

/** Codes of the client's `connecting` event that the client itself chose. */
export const connectingCodes = Object.freeze({
  connectCalled: 0,
  transportClosed: 1,
  noPing: 2,
  subscribeTimeout: 3,
  unsubscribeError: 4,
});

/** Codes of the client's `disconnected` event that the client itself chose. */
export const disconnectedCodes = Object.freeze({
  disconnectCalled: 0,
  unauthorized: 1,
  badProtocol: 2,
  messageSizeLimit: 3,
});

/** Codes of a subscription's `subscribing` event that the client chose. */
export const subscribingCodes = Object.freeze({
  subscribeCalled: 0,
  transportClosed: 1,
});

/** Codes of a subscription's `unsubscribed` event that the client chose. */
export const unsubscribedCodes = Object.freeze({
  unsubscribeCalled: 0,
  unauthorized: 1,
  clientClosed: 2,
});

/**
 * Whether the client reconnects after the connection closed with `code`
 * (a WebSocket close code or the code of a server's `disconnect` push):
 * 3500–3999 and 4500–4999 are terminal, and so is WebSocket's 1009
 * (message too big); every other code (transport failures below 3000,
 * 3000–3499, 4000–4499, 5000 and up) means reconnect.
 * @param {number} code
 * @returns {boolean}
 */
export function reconnectAfterClose(code) {
  if (code === 1009) return false;
  if (code >= 3500 && code < 4000) return false;
  if (code >= 4500 && code < 5000) return false;
  return true;
}

/**
 * What to do after a reply error to `connect`: `"reconnect"` for
 * client-side codes (< 100) and temporary errors, `"refreshToken"` for 109
 * (token expired: get a fresh one, then reconnect), `"stop"` otherwise.
 * @param {{code: number, temporary?: boolean}} error
 * @returns {'reconnect' | 'refreshToken' | 'stop'}
 */
export function connectErrorAction(error) {
  if (error.code === 109) return 'refreshToken';
  if (error.code < 100 || error.temporary) return 'reconnect';
  return 'stop';
}

/**
 * What to do after a reply error to `subscribe`: `"resubscribe"` (with
 * backoff) for client-side codes and temporary errors, `"refreshToken"`
 * for 109, `"unsubscribe"` otherwise (103 permission denied, 102 unknown
 * channel…: retrying cannot help).
 * @param {{code: number, temporary?: boolean}} error
 * @returns {'resubscribe' | 'refreshToken' | 'unsubscribe'}
 */
export function subscribeErrorAction(error) {
  if (error.code === 109) return 'refreshToken';
  if (error.code < 100 || error.temporary) return 'resubscribe';
  return 'unsubscribe';
}

/**
 * Whether a subscription subscribes again after the server's `unsubscribe`
 * push with `code`: 2500 and up (insufficient state, expired, state
 * invalidated) do, lower codes (the server API unsubscribed it) do not.
 * @param {number} code
 */
export function resubscribeAfterUnsubscribe(code) {
  return code >= 2500;
}

// ---------------------------------------------------------------------------
// Backoff

/**
 * The delay before retry number `attempt` (0 first): `min` plus a uniformly
 * random part of `min · 2^attempt` ("full jitter"), never more than `max`.
 * Clients that lost the same server spread their reconnects over the window
 * instead of returning in one wave.
 * @param {number} attempt
 * @param {number} min milliseconds
 * @param {number} max milliseconds
 * @param {() => number} [random] a source of [0, 1)
 * @returns {number} milliseconds
 */
export function backoffDelay(attempt, min, max, random = Math.random) {
  const step = Math.min(Math.max(attempt, 0), 31);
  const window = Math.min(max, min * 2 ** step);
  return Math.min(max, Math.floor(min + random() * window));
}

// ---------------------------------------------------------------------------
// Framing

/**
 * One transport frame of commands: each command's JSON, joined by `\n`.
 * @param {object[]} commands
 * @returns {string}
 */
export function encodeCommands(commands) {
  return commands.map((c) => JSON.stringify(c)).join('\n');
}

/**
 * The replies and pushes in one frame (JSON objects joined by `\n`; blank
 * lines are skipped). Throws a {@link PushwireError} naming the bad line.
 * @param {string} text
 * @returns {object[]}
 */
export function decodeFrame(text) {
  const out = [];
  for (const line of text.split('\n')) {
    const trimmed = line.trim();
    if (!trimmed) continue;
    let value;
    try {
      value = JSON.parse(trimmed);
    } catch {
      throw new PushwireError(errorCodes.connectionClosed, `bad protocol: not JSON: ${trimmed.slice(0, 80)}`);
    }
    if (value === null || typeof value !== 'object' || Array.isArray(value)) {
      throw new PushwireError(errorCodes.connectionClosed, `bad protocol: not an object: ${trimmed.slice(0, 80)}`);
    }
    out.push(value);
  }
  return out;
}

/**
 * Splits a byte stream into `\n`-terminated lines (HTTP streaming), holding
 * at most `maxLine` characters of an unfinished line.
 */
export class LineDecoder {
  /** @param {number} [maxLine] */
  constructor(maxLine = 16 << 20) {
    this.maxLine = maxLine;
    this.rest = '';
    this.text = new TextDecoder();
  }

  /**
   * The complete lines `chunk` finishes (without `\n`, blank ones dropped).
   * Throws a {@link PushwireError} when an unfinished line exceeds `maxLine`.
   * @param {Uint8Array | string} chunk
   * @returns {string[]}
   */
  push(chunk) {
    const text = typeof chunk === 'string' ? chunk : this.text.decode(chunk, { stream: true });
    const parts = (this.rest + text).split('\n');
    this.rest = parts.pop();
    if (this.rest.length > this.maxLine) {
      throw new PushwireError(errorCodes.connectionClosed, `message larger than ${this.maxLine} characters`);
    }
    return parts.filter((p) => p.trim() !== '');
  }
}

/**
 * Parses a `text/event-stream` byte stream (SSE, as served by the hub) into
 * the `data` of each event; holds at most `maxEvent` characters unfinished.
 */
export class EventStreamDecoder {
  /** @param {number} [maxEvent] */
  constructor(maxEvent = 16 << 20) {
    this.lines = new LineDecoder(maxEvent);
    this.data = [];
    this.size = 0;
    this.maxEvent = maxEvent;
    this.pendingCr = false;
  }

  /**
   * The data of each event that `chunk` completes.
   * @param {Uint8Array | string} chunk
   * @returns {string[]}
   */
  push(chunk) {
    let text = typeof chunk === 'string' ? chunk : this.lines.text.decode(chunk, { stream: true });
    // Lines end in \n, \r\n or \r: fold the last two into \n.
    if (this.pendingCr && text.startsWith('\n')) text = text.slice(1);
    this.pendingCr = text.endsWith('\r');
    text = text.replace(/\r\n?/g, '\n');
    const events = [];
    const parts = (this.lines.rest + text).split('\n');
    this.lines.rest = parts.pop();
    if (this.lines.rest.length > this.maxEvent) {
      throw new PushwireError(errorCodes.connectionClosed, `event larger than ${this.maxEvent} characters`);
    }
    for (const line of parts) {
      if (line === '') {
        if (this.data.length) events.push(this.data.join('\n'));
        this.data = [];
        this.size = 0;
        continue;
      }
      if (line.startsWith(':')) continue;
      const colon = line.indexOf(':');
      const field = colon < 0 ? line : line.slice(0, colon);
      let value = colon < 0 ? '' : line.slice(colon + 1);
      if (value.startsWith(' ')) value = value.slice(1);
      if (field !== 'data') continue;
      this.size += value.length;
      if (this.size > this.maxEvent) {
        throw new PushwireError(errorCodes.connectionClosed, `event larger than ${this.maxEvent} characters`);
      }
      this.data.push(value);
    }
    return events;
  }
}

// ---------------------------------------------------------------------------
// Recovery bookkeeping

/**
 * Where a subscription is in its channel's stream: the epoch and the offset
 * of the last publication it delivered. It fills the `recover` fields of the
 * next subscribe, and drops a publication it already delivered (same epoch,
 * offset not above the last) so that a recovery never shows one twice.
 */
export class StreamPosition {
  /** @param {{offset?: number, epoch?: string} | null} [since] */
  constructor(since = null) {
    /** @type {number | null} */
    this.offset = since && typeof since.offset === 'number' ? since.offset : null;
    /** @type {string | null} */
    this.epoch = since && typeof since.epoch === 'string' ? since.epoch : null;
    /** Ask the server to recover on the next subscribe. */
    this.recover = since !== null && since !== undefined;
  }

  /** The fields a subscribe (or a connect's `subs`) carries to recover. */
  subscribeFields() {
    if (!this.recover) return {};
    const fields = { recover: true };
    if (this.offset !== null) fields.offset = this.offset;
    if (this.epoch !== null) fields.epoch = this.epoch;
    return fields;
  }

  /**
   * Takes in a subscribe result: a recoverable stream's epoch and offset
   * (on a successful recovery the server answers with the requested offset
   * and the missed publications, which {@link admit} then advances over).
   * @param {{recoverable?: boolean, positioned?: boolean, epoch?: string, offset?: number}} result
   */
  subscribed(result) {
    if (result.recoverable || result.positioned) {
      this.epoch = result.epoch ?? '';
      this.offset = result.offset ?? 0;
      this.recover = !!result.recoverable;
    }
  }

  /**
   * Whether to deliver a publication at `offset`: false for one at or below
   * the last delivered offset; true (and the position advances) otherwise,
   * or when the publication has no offset.
   * @param {number | undefined} offset
   */
  admit(offset) {
    if (typeof offset !== 'number' || offset === 0) return true;
    if (this.offset !== null && this.epoch !== null && offset <= this.offset) return false;
    this.offset = offset;
    return true;
  }

  /** Forgets the position (the server said the state is gone). */
  reset() {
    this.offset = null;
    this.epoch = null;
    this.recover = false;
  }
}

// ---------------------------------------------------------------------------
// Events

/** A small event emitter (`on`, `once`, `off`, `emit`). */
class Emitter {
  constructor() {
    /** @type {Map<string, Function[]>} */
    this._listeners = new Map();
  }

  /** Calls `listener` on each `event`. */
  on(event, listener) {
    const list = this._listeners.get(event) || [];
    list.push(listener);
    this._listeners.set(event, list);
    return this;
  }

  /** Calls `listener` on the next `event` only. */
  once(event, listener) {
    const wrapper = (...args) => {
      this.off(event, wrapper);
      listener(...args);
    };
    wrapper.listener = listener;
    return this.on(event, wrapper);
  }

  /** Removes `listener` (or, without it, every listener of `event`). */
  off(event, listener) {
    if (!listener) {
      this._listeners.delete(event);
      return this;
    }
    const list = this._listeners.get(event);
    if (!list) return this;
    const i = list.findIndex((l) => l === listener || l.listener === listener);
    if (i >= 0) list.splice(i, 1);
    return this;
  }

  /** Removes every listener of `event`, or of all events. */
  removeAllListeners(event) {
    if (event === undefined) this._listeners.clear();
    else this._listeners.delete(event);
    return this;
  }

  /**
   * Calls each listener of `event` with `ctx`. A listener that throws does
   * not stop the others nor the client: its error is rethrown on its own
   * turn, where the page's error handler sees it.
   */
  emit(event, ctx) {
    const list = this._listeners.get(event);
    if (!list) return false;
    for (const listener of [...list]) {
      try {
        listener(ctx);
      } catch (e) {
        setTimeout(() => {
          throw e;
        }, 0);
      }
    }
    return list.length > 0;
  }
}

// ---------------------------------------------------------------------------
// Transports

/**
 * What a transport needs from its environment: `WebSocket`, `fetch`,
 * `EventSource` (from the client's options, else the globals).
 * @typedef {{WebSocket?: any, fetch?: any, EventSource?: any, emulationEndpoint: string, maxMessageSize: number}} TransportEnv
 */

/**
 * Callbacks a transport reports to; `onClose` is called at most once, and
 * never after the client called `close()`.
 * @typedef {{onOpen: () => void, onMessage: (text: string) => void, onClose: (ctx: {code: number, reason: string}) => void}} TransportHandlers
 */

/**
 * The bidirectional WebSocket transport (`/connection/websocket`): every
 * frame carries commands one way and replies and pushes the other.
 */
export class WebSocketTransport {
  /** @param {TransportEnv} env */
  static supported(env) {
    return typeof env.WebSocket === 'function';
  }

  /**
   * @param {string} endpoint a `ws:` or `wss:` URL
   * @param {TransportEnv} env
   */
  constructor(endpoint, env) {
    this.name = 'websocket';
    /** Later commands go over the connection itself. */
    this.emulation = false;
    this.endpoint = endpoint;
    this.env = env;
    this.ws = null;
    this.handlers = null;
  }

  /**
   * Opens the socket and sends `initial` (the connect command and any
   * subscribes) as its first frame.
   * @param {string} initial
   * @param {TransportHandlers} handlers
   */
  open(initial, handlers) {
    this.handlers = handlers;
    let ws;
    try {
      ws = new this.env.WebSocket(this.endpoint);
    } catch (e) {
      queueMicrotask(() => this._closed(errorCodes.transportClosed, `websocket: ${e.message}`));
      return;
    }
    this.ws = ws;
    ws.onopen = () => {
      if (this.handlers === null) return;
      this.handlers.onOpen();
      ws.send(initial);
    };
    ws.onmessage = (event) => {
      if (this.handlers === null) return;
      const data = event.data;
      if (typeof data !== 'string') {
        // The JSON protocol is text only.
        const handlers = this.handlers;
        this.close();
        handlers.onClose({ code: 3506, reason: 'binary frame on the JSON protocol' });
        return;
      }
      this.handlers.onMessage(data);
    };
    ws.onerror = () => {};
    ws.onclose = (event) => {
      this._closed(event.code || 1006, event.reason || 'connection closed');
    };
  }

  _closed(code, reason) {
    const handlers = this.handlers;
    if (handlers === null) return;
    this.handlers = null;
    handlers.onClose({ code, reason });
  }

  /** Sends one frame of commands. @param {string} text */
  send(text) {
    if (this.ws === null || this.ws.readyState !== 1) {
      throw new PushwireError(errorCodes.transportWriteError, 'websocket is not open');
    }
    this.ws.send(text);
  }

  /** Closes without calling `onClose`. */
  close() {
    this.handlers = null;
    const ws = this.ws;
    this.ws = null;
    if (ws === null) return;
    ws.onopen = ws.onmessage = ws.onclose = null;
    ws.onerror = () => {};
    try {
      ws.close();
    } catch {
      // A socket still connecting may refuse close() in some engines.
    }
  }
}

/**
 * The shared half of the two emulation transports: commands after the
 * connect go to the emulation endpoint as `POST {session, node, data}`,
 * and their replies come back on the open stream.
 */
class EmulationTransport {
  constructor(name, endpoint, env) {
    this.name = name;
    /** Later commands go by `POST` to the emulation endpoint. */
    this.emulation = true;
    this.endpoint = endpoint;
    this.env = env;
    this.handlers = null;
    this.abort = typeof AbortController === 'function' ? new AbortController() : null;
    /** Command frames waiting for the emulation request in flight. */
    this.queue = [];
    this.posting = false;
  }

  _closed(code, reason) {
    const handlers = this.handlers;
    if (handlers === null) return;
    this.handlers = null;
    this.abort?.abort();
    handlers.onClose({ code, reason });
  }

  /**
   * Posts `text` (commands joined by `\n`) for the stream of `session`.
   * One request is in flight at a time, so the server takes commands in
   * the order they were sent; what is sent meanwhile leaves together in the
   * next request. A 404 (the server does not know the session's node), a
   * 5xx or a network error closes the transport, so the client reconnects
   * at once instead of waiting for its commands to time out.
   * @param {string} text
   * @param {string} session
   * @param {string} node
   */
  send(text, session, node) {
    this.queue.push(text);
    if (!this.posting) this._post(session, node);
  }

  _post(session, node) {
    const body = JSON.stringify({ session, node, data: this.queue.join('\n') });
    this.queue = [];
    this.posting = true;
    this.env
      .fetch(this.env.emulationEndpoint, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body,
        mode: 'cors',
        credentials: 'same-origin',
        signal: this.abort?.signal,
      })
      .then(
        (res) => {
          res.body?.cancel?.().catch(() => {});
          this.posting = false;
          if (res.status === 404 || res.status >= 500) {
            this._closed(errorCodes.transportWriteError, `emulation request answered ${res.status}`);
            return;
          }
          if (this.handlers !== null && this.queue.length) this._post(session, node);
        },
        (e) => {
          this.posting = false;
          if (this.abort?.signal.aborted) return;
          this._closed(errorCodes.transportWriteError, `emulation request failed: ${e.message}`);
        },
      );
  }

  /**
   * Reads `response`'s body through `decoder` until it ends.
   * @param {Response} response
   * @param {{push(chunk: Uint8Array): string[]}} decoder
   */
  async _read(response, decoder) {
    const reader = response.body.getReader();
    for (;;) {
      let chunk;
      try {
        chunk = await reader.read();
      } catch (e) {
        this._closed(errorCodes.connectionClosed, `stream failed: ${e.message}`);
        return;
      }
      if (this.handlers === null) {
        reader.cancel().catch(() => {});
        return;
      }
      if (chunk.done) {
        this._closed(errorCodes.connectionClosed, 'connection closed');
        return;
      }
      let messages;
      try {
        messages = decoder.push(chunk.value);
      } catch (e) {
        reader.cancel().catch(() => {});
        this._closed(1009, e.message);
        return;
      }
      for (const m of messages) {
        if (this.handlers === null) return;
        this.handlers.onMessage(m);
      }
    }
  }

  /** Stops the stream and any emulation request in flight, without `onClose`. */
  close() {
    this.handlers = null;
    this.abort?.abort();
  }
}

/**
 * HTTP streaming (`POST /connection/http_stream`): the connect command is
 * the request's body, replies and pushes come back as lines of the
 * response; later commands go to the emulation endpoint.
 */
export class HttpStreamTransport extends EmulationTransport {
  /** @param {TransportEnv} env */
  static supported(env) {
    return typeof env.fetch === 'function' && typeof ReadableStream === 'function' && typeof TextDecoder === 'function';
  }

  /** @param {string} endpoint an `http:` or `https:` URL @param {TransportEnv} env */
  constructor(endpoint, env) {
    super('http_stream', endpoint, env);
  }

  /** @param {string} initial @param {TransportHandlers} handlers */
  open(initial, handlers) {
    this.handlers = handlers;
    this.env
      .fetch(this.endpoint, {
        method: 'POST',
        headers: { Accept: 'application/json', 'Content-Type': 'application/json' },
        body: initial,
        mode: 'cors',
        credentials: 'same-origin',
        signal: this.abort?.signal,
      })
      .then(
        (res) => {
          if (this.handlers === null) return;
          if (!res.ok || !res.body) {
            res.body?.cancel?.().catch(() => {});
            this._closed(errorCodes.connectionClosed, `http_stream answered ${res.status}`);
            return;
          }
          this.handlers.onOpen();
          return this._read(res, new LineDecoder(this.env.maxMessageSize));
        },
        (e) => this._closed(errorCodes.connectionClosed, `http_stream failed: ${e.message}`),
      );
  }
}

/**
 * Server-Sent Events (`GET /connection/sse?cf_connect=<connect command>`):
 * one reply or push per event; later commands go to the emulation
 * endpoint. Uses `EventSource` where there is one (browsers), else reads the
 * event stream with `fetch` (Node).
 */
export class SseTransport extends EmulationTransport {
  /** @param {TransportEnv} env */
  static supported(env) {
    return typeof env.fetch === 'function' && (typeof env.EventSource === 'function' || typeof ReadableStream === 'function');
  }

  /** @param {string} endpoint an `http:` or `https:` URL @param {TransportEnv} env */
  constructor(endpoint, env) {
    super('sse', endpoint, env);
    this.source = null;
  }

  /** @param {string} initial @param {TransportHandlers} handlers */
  open(initial, handlers) {
    this.handlers = handlers;
    const url = new URL(this.endpoint);
    url.searchParams.set('cf_connect', initial);
    if (typeof this.env.EventSource === 'function') {
      const source = new this.env.EventSource(url.toString());
      this.source = source;
      source.onopen = () => this.handlers?.onOpen();
      source.onmessage = (event) => this.handlers?.onMessage(event.data);
      // EventSource would reconnect by itself with the same cf_connect: the
      // client reconnects instead, with a fresh connect command.
      source.onerror = () => {
        source.close();
        this._closed(errorCodes.connectionClosed, 'connection closed');
      };
      return;
    }
    this.env
      .fetch(url.toString(), {
        method: 'GET',
        headers: { Accept: 'text/event-stream' },
        mode: 'cors',
        credentials: 'same-origin',
        signal: this.abort?.signal,
      })
      .then(
        (res) => {
          if (this.handlers === null) return;
          if (!res.ok || !res.body) {
            res.body?.cancel?.().catch(() => {});
            this._closed(errorCodes.connectionClosed, `sse answered ${res.status}`);
            return;
          }
          this.handlers.onOpen();
          return this._read(res, new EventStreamDecoder(this.env.maxMessageSize));
        },
        (e) => this._closed(errorCodes.connectionClosed, `sse failed: ${e.message}`),
      );
  }

  close() {
    super.close();
    if (this.source) {
      this.source.onopen = this.source.onmessage = this.source.onerror = null;
      this.source.close();
      this.source = null;
    }
  }
}

/**
 * The transports a client can use, by name, with the path each has under
 * the hub's base URL. {@link registerTransport} adds more (long polling
 * plugs in here).
 * @type {Map<string, {Transport: any, path: string, websocket: boolean}>}
 */
const transportRegistry = new Map([
  ['websocket', { Transport: WebSocketTransport, path: '/connection/websocket', websocket: true }],
  ['http_stream', { Transport: HttpStreamTransport, path: '/connection/http_stream', websocket: false }],
  ['sse', { Transport: SseTransport, path: '/connection/sse', websocket: false }],
]);

/** The order a client tries transports in when the application names none. */
export const DEFAULT_TRANSPORTS = Object.freeze(['websocket', 'http_stream', 'sse', 'long_polling']);

/**
 * Makes a transport available under `name`. `Transport` is a class with a
 * static `supported(env)` and instances with `name`, `emulation`,
 * `open(initial, handlers)`, `send(text, session, node)` and `close()` —
 * the shape of {@link WebSocketTransport} and {@link HttpStreamTransport}.
 * `path` is its endpoint under the hub's base URL; `websocket` says whether
 * the endpoint takes a `ws:`/`wss:` scheme.
 * @param {string} name
 * @param {any} Transport
 * @param {{path: string, websocket?: boolean}} where
 */
export function registerTransport(name, Transport, { path, websocket = false }) {
  transportRegistry.set(name, { Transport, path, websocket });
}

/**
 * The hub's base URL (`http(s)://host[/prefix]`) from what the application
 * passed: a `ws(s)://…/connection/websocket` URL, an `http(s)://` URL, or a
 * path resolved against the page's address.
 * @param {string} url
 * @returns {URL}
 */
export function hubBase(url) {
  let base;
  const page = globalThis.location?.href;
  try {
    base = page ? new URL(url, page) : new URL(url);
  } catch {
    throw new PushwireError(errorCodes.badConfiguration, `not a URL: ${url}`);
  }
  if (base.protocol === 'ws:') base.protocol = 'http:';
  else if (base.protocol === 'wss:') base.protocol = 'https:';
  else if (base.protocol !== 'http:' && base.protocol !== 'https:') {
    throw new PushwireError(errorCodes.badConfiguration, `unsupported URL scheme: ${base.protocol}`);
  }
  let path = base.pathname.replace(/\/+$/, '');
  for (const suffix of ['/connection/websocket', '/connection/http_stream', '/connection/sse']) {
    if (path.endsWith(suffix)) path = path.slice(0, -suffix.length);
  }
  base.pathname = path;
  base.search = '';
  base.hash = '';
  return base;
}

/**
 * The URL of `path` under the hub's `base` (`ws:`/`wss:` when `websocket`).
 * @param {URL} base
 * @param {string} path starting with `/`
 * @param {boolean} [websocket]
 */
export function endpointUnder(base, path, websocket = false) {
  const u = new URL(base.toString());
  u.pathname = base.pathname.replace(/\/+$/, '') + path;
  if (websocket) u.protocol = u.protocol === 'https:' ? 'wss:' : 'ws:';
  return u.toString();
}

/**
 * The endpoints to try, in order: `{name, endpoint}` for each transport
 * that is registered, supported in `env` and asked for.
 * @param {URL} base
 * @param {(string | {transport: string, endpoint?: string})[]} wanted
 * @param {TransportEnv} env
 */
export function transportPlan(base, wanted, env) {
  const plan = [];
  for (const item of wanted) {
    const name = typeof item === 'string' ? item : item.transport;
    const entry = transportRegistry.get(name);
    if (!entry || !entry.Transport.supported(env)) continue;
    let endpoint = typeof item === 'object' && item.endpoint ? item.endpoint : null;
    if (endpoint === null) endpoint = endpointUnder(base, entry.path, entry.websocket);
    plan.push({ name, endpoint, Transport: entry.Transport });
  }
  return plan;
}

// ---------------------------------------------------------------------------
// Helpers

const camelInfo = (info) => {
  if (!info) return info;
  const out = { user: info.user ?? '', client: info.client ?? '' };
  if (info.conn_info !== undefined) out.connInfo = info.conn_info;
  if (info.chan_info !== undefined) out.chanInfo = info.chan_info;
  return out;
};

const publicationContext = (channel, pub) => {
  const ctx = { channel, data: pub.data };
  if (pub.info) ctx.info = camelInfo(pub.info);
  if (pub.offset) ctx.offset = pub.offset;
  if (pub.tags) ctx.tags = pub.tags;
  return ctx;
};

const historyResult = (result) => ({
  publications: (result.publications || []).map((p) => {
    const ctx = { data: p.data };
    if (p.info) ctx.info = camelInfo(p.info);
    if (p.offset) ctx.offset = p.offset;
    if (p.tags) ctx.tags = p.tags;
    return ctx;
  }),
  offset: result.offset ?? 0,
  epoch: result.epoch ?? '',
});

const historyRequest = (channel, opts = {}) => {
  const req = { channel };
  if (opts.limit !== undefined) req.limit = opts.limit;
  if (opts.since) req.since = { offset: opts.since.offset ?? 0, epoch: opts.since.epoch ?? '' };
  if (opts.reverse) req.reverse = true;
  return req;
};

const presenceResult = (result) => {
  const clients = {};
  for (const [id, info] of Object.entries(result.presence || {})) clients[id] = camelInfo(info);
  return { clients };
};

const replyError = (error) =>
  new PushwireError(error.code ?? 0, error.message || `error ${error.code}`, !!error.temporary);

function envFrom(options) {
  return {
    WebSocket: options.websocket ?? globalThis.WebSocket,
    fetch: options.fetch ?? (globalThis.fetch ? globalThis.fetch.bind(globalThis) : undefined),
    EventSource: options.eventsource ?? globalThis.EventSource,
    emulationEndpoint: '',
    maxMessageSize: options.maxMessageSize,
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
    /** Subscriptions whose subscribe rode in the connect frame. */
    this._optimistic = [];
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
    this._write(commands);
  }

  _write(commands) {
    const text = encodeCommands(commands);
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
    const index = this._nextTransport();
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
    this._optimistic = [];
    for (const sub of optimistic) {
      const cmd = sub._subscribeCommand();
      if (cmd) {
        frame.push(cmd);
        this._optimistic.push(sub);
      }
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
    });
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
    this._optimistic = [];
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

const subscribedContext = (channel, result) => {
  const ctx = {
    channel,
    recoverable: !!result.recoverable,
    positioned: !!result.positioned,
    wasRecovering: !!result.was_recovering,
    recovered: !!result.recovered,
  };
  if (result.recoverable || result.positioned) {
    ctx.streamPosition = { offset: result.offset ?? 0, epoch: result.epoch ?? '' };
  }
  if (result.data !== undefined) ctx.data = result.data;
  return ctx;
};

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

export default Client;
