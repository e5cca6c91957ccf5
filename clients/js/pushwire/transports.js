/**
 * pushwire.js: the transports — bidirectional WebSocket, and HTTP streaming,
 * SSE and long polling with commands posted to the emulation endpoint — behind
 * one interface, and the registry that plans which to try in what order.
 * Part of the client; applications import `pushwire.js`, which re-exports
 * what they need.
 * @module
 */

import { errorCodes, EventStreamDecoder, LineDecoder, PushwireError, utf8Length } from './protocol.js';

// ---------------------------------------------------------------------------
// Transports

/**
 * What a transport needs from its environment: `WebSocket`, `fetch`,
 * `EventSource` (from the client's options, else the globals).
 * @typedef {{WebSocket?: any, fetch?: any, EventSource?: any, emulationEndpoint: string, maxMessageSize: number, maxBatchBytes: number}} TransportEnv
 */

/**
 * Callbacks a transport reports to; `onClose` is called at most once, and
 * never after the client called `close()`.
 * `onRefused` (optional) is told the commands the server refused to take
 * (an emulation request answered 413 or 400) while the transport goes on.
 * @typedef {{onOpen: () => void, onMessage: (text: string) => void, onClose: (ctx: {code: number, reason: string}) => void, onRefused?: (text: string, status: number) => void}} TransportHandlers
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
    // Frames waiting together leave together, up to maxBatchBytes.
    let take = 1;
    let size = utf8Length(this.queue[0]);
    while (take < this.queue.length) {
      const next = utf8Length(this.queue[take]) + 1;
      if (size + next > this.env.maxBatchBytes) break;
      size += next;
      take += 1;
    }
    const data = this.queue.splice(0, take).join('\n');
    const body = JSON.stringify({ session, node, data });
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
          // Refused (413 too large, 400 undecodable): those commands fail,
          // the stream goes on.
          if (res.status >= 300) this.handlers?.onRefused?.(data, res.status);
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
   * Opens the stream with `fetch(url, init)` and reads it through `decoder`;
   * a failed request or a non-2xx answer closes the transport.
   */
  _stream(url, init, decoder) {
    this.env
      .fetch(url, { ...init, mode: 'cors', credentials: 'same-origin', signal: this.abort?.signal })
      .then(
        (res) => {
          if (this.handlers === null) return;
          if (!res.ok || !res.body) {
            res.body?.cancel?.().catch(() => {});
            this._closed(errorCodes.connectionClosed, `${this.name} answered ${res.status}`);
            return;
          }
          this.handlers.onOpen();
          return this._read(res, decoder);
        },
        (e) => this._closed(errorCodes.connectionClosed, `${this.name} failed: ${e.message}`),
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
    this._stream(
      this.endpoint,
      {
        method: 'POST',
        headers: { Accept: 'application/json', 'Content-Type': 'application/json' },
        body: initial,
      },
      new LineDecoder(this.env.maxMessageSize),
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
    this._stream(
      url.toString(),
      { method: 'GET', headers: { Accept: 'text/event-stream' } },
      new EventStreamDecoder(this.env.maxMessageSize),
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
 * The cursor of a long-poll session: which batch the client has processed
 * (the `ack` of its next poll), and what one poll's answer holds. Pure
 * bookkeeping, no IO.
 *
 * The hub answers each poll with one of: an empty body (nothing new: poll
 * again with the same ack); a batch, whose first line is
 * `{"poll":{"seq":N}}` (in the open response also `"session"`) and whose
 * other lines are protocol messages; or a final body without a poll line
 * (a disconnect push: the session is over). The hub keeps batch `ack + 1`
 * until a poll acks it, so a batch whose response was lost comes again; a
 * batch at or below `ack` is a duplicate and is skipped whole.
 */
export class PollCursor {
  constructor() {
    /** The session, from the open response's poll line. */
    this.session = '';
    /** The last batch processed: the next poll's `ack`. */
    this.ack = 0;
    /** A final body came: the session is over. */
    this.over = false;
  }

  /**
   * Takes one poll's answer apart and moves the cursor past a new batch.
   * `kind` is `empty`, `batch` (its `messages` are new), `duplicate` (seen
   * already: nothing to deliver) or `final` (deliver `messages`, then the
   * session is over). Throws on a batch that skips one, or a bad poll line.
   * @param {string} body
   * @returns {{kind: 'empty' | 'batch' | 'duplicate' | 'final', messages: string[]}}
   */
  accept(body) {
    const lines = body.split('\n').filter((line) => line.trim() !== '');
    if (lines.length === 0) return { kind: 'empty', messages: [] };
    if (!lines[0].startsWith('{"poll":')) {
      this.over = true;
      return { kind: 'final', messages: lines };
    }
    let poll;
    try {
      poll = JSON.parse(lines[0]).poll;
    } catch {
      poll = null;
    }
    const seq = poll?.seq;
    if (!Number.isSafeInteger(seq) || seq < 1) {
      throw new PushwireError(errorCodes.connectionClosed, `bad long poll line: ${lines[0].slice(0, 80)}`);
    }
    if (typeof poll.session === 'string' && poll.session && !this.session) this.session = poll.session;
    if (seq <= this.ack) return { kind: 'duplicate', messages: [] };
    if (seq !== this.ack + 1) {
      throw new PushwireError(errorCodes.connectionClosed, `long poll batch ${seq} after ${this.ack}: one was skipped`);
    }
    this.ack = seq;
    return { kind: 'batch', messages: lines.slice(1) };
  }
}

/** Polls that fail in a row (network errors, 5xx) before the transport gives up. */
export const MAX_POLL_RETRIES = 5;

/**
 * Milliseconds to wait before retry `n` (1, 2, …) of a failed poll: 250 ms
 * doubling to 4 s — about 8 s in all, well within the session's lifetime on
 * the hub (50 s by default), so a brief outage loses nothing.
 * @param {number} n
 */
export function pollRetryDelay(n) {
  return Math.min(250 * 2 ** (n - 1), 4000);
}

/**
 * Long polling (`POST /connection/long_poll`), the last resort for networks
 * that buffer even streaming responses: the connect command opens a session
 * and its answer holds the connect reply; then each poll
 * (`?session=…&ack=<last batch processed>`) is held by the hub until
 * something is queued and answers with the next batch (see
 * {@link PollCursor}). A poll that fails (the network, a 5xx) is retried with
 * the same ack, so the batch it may have carried comes again. Commands go to
 * the emulation endpoint; `close()` tells the hub the session is over.
 */
export class LongPollTransport extends EmulationTransport {
  /** @param {TransportEnv} env */
  static supported(env) {
    return typeof env.fetch === 'function';
  }

  /** @param {string} endpoint an `http:` or `https:` URL @param {TransportEnv} env */
  constructor(endpoint, env) {
    super('long_polling', endpoint, env);
    this.cursor = new PollCursor();
    /** Polls failed in a row. */
    this.failures = 0;
    this.retry = null;
    this.released = false;
  }

  /** @param {string} initial @param {TransportHandlers} handlers */
  open(initial, handlers) {
    this.handlers = handlers;
    this._fetch(this.endpoint, initial).then(
      (body) => {
        if (this.handlers === null) return;
        this.handlers.onOpen();
        this._take(body);
        if (this.handlers !== null && !this.cursor.session) {
          this._closed(errorCodes.connectionClosed, 'long_polling: the open response named no session');
        }
      },
      (e) => this._closed(errorCodes.connectionClosed, `long_polling failed: ${e.message}`),
    );
  }

  /**
   * POSTs to `url` (with `body`, the connect command, if given) and resolves
   * with the whole answer; rejects on a network error or a status other than
   * 2xx (the error's `status` says which).
   */
  async _fetch(url, body) {
    const init = { method: 'POST', mode: 'cors', credentials: 'same-origin', signal: this.abort?.signal };
    // A poll has no body and no headers: a simple request, no preflight.
    if (body !== undefined) {
      init.body = body;
      init.headers = { Accept: 'application/json', 'Content-Type': 'application/json' };
    }
    const res = await this.env.fetch(url, init);
    if (!res.ok) {
      res.body?.cancel?.().catch(() => {});
      const error = new Error(`answered ${res.status}`);
      error.status = res.status;
      throw error;
    }
    return res.text();
  }

  /** The URL of a poll (`?session=…&ack=…`) or, with `close`, of the close. */
  _url(close = false) {
    const url = new URL(this.endpoint);
    url.searchParams.set('session', this.cursor.session);
    if (close) url.searchParams.set('close', '1');
    else url.searchParams.set('ack', String(this.cursor.ack));
    return url.toString();
  }

  /** Delivers what a poll's answer holds, then polls again (or ends). */
  _take(body) {
    let answer;
    try {
      answer = this.cursor.accept(body);
    } catch (e) {
      this._closed(errorCodes.connectionClosed, e.message);
      return;
    }
    for (const message of answer.messages) {
      if (this.handlers === null) return;
      if (message.length > this.env.maxMessageSize) {
        this._closed(1009, `message larger than ${this.env.maxMessageSize} characters`);
        return;
      }
      this.handlers.onMessage(message);
    }
    if (this.handlers === null) return;
    if (answer.kind === 'final') {
      this._closed(errorCodes.connectionClosed, 'long poll session ended');
      return;
    }
    if (this.cursor.session) this._poll();
  }

  _poll() {
    this._fetch(this._url()).then(
      (body) => {
        this.failures = 0;
        if (this.handlers !== null) this._take(body);
      },
      (e) => {
        if (this.handlers === null || this.abort?.signal.aborted) return;
        // A 4xx will not get better: the hub does not serve this (or the
        // request is refused). Anything else may be the network: retry.
        if (e.status >= 400 && e.status < 500) {
          this._closed(errorCodes.connectionClosed, `long_polling ${e.message}`);
          return;
        }
        this.failures += 1;
        if (this.failures > MAX_POLL_RETRIES) {
          this._closed(errorCodes.connectionClosed, `long_polling: ${this.failures} polls failed: ${e.message}`);
          return;
        }
        this.retry = setTimeout(() => {
          this.retry = null;
          if (this.handlers !== null) this._poll();
        }, pollRetryDelay(this.failures));
      },
    );
  }

  /** Tells the hub the session is over (once, best effort). */
  _release() {
    if (this.released || !this.cursor.session || this.cursor.over) return;
    this.released = true;
    try {
      this.env
        .fetch(this._url(true), { method: 'POST', mode: 'cors', credentials: 'same-origin', keepalive: true })
        .then((res) => res.body?.cancel?.().catch(() => {}))
        .catch(() => {});
    } catch {
      // The environment refused the request: the session expires instead.
    }
  }

  _closed(code, reason) {
    if (this.handlers === null) return;
    if (this.retry !== null) clearTimeout(this.retry);
    this._release();
    super._closed(code, reason);
  }

  /** Stops polling, without `onClose`, and ends the session on the hub. */
  close() {
    if (this.retry !== null) clearTimeout(this.retry);
    this.retry = null;
    this._release();
    super.close();
  }
}

/**
 * The transports a client can use, by name, with the path each has under
 * the hub's base URL. {@link registerTransport} adds more.
 * @type {Map<string, {Transport: any, path: string, websocket: boolean}>}
 */
const transportRegistry = new Map([
  ['websocket', { Transport: WebSocketTransport, path: '/connection/websocket', websocket: true }],
  ['http_stream', { Transport: HttpStreamTransport, path: '/connection/http_stream', websocket: false }],
  ['sse', { Transport: SseTransport, path: '/connection/sse', websocket: false }],
  ['long_polling', { Transport: LongPollTransport, path: '/connection/long_poll', websocket: false }],
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
  for (const suffix of ['/connection/websocket', '/connection/http_stream', '/connection/sse', '/connection/long_poll']) {
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
