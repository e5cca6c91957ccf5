/**
 * pushwire.js: the protocol's rules and shapes — error and close codes and what
 * each means for the client, backoff, framing of commands, replies and
 * streams, the stream position that drives recovery, and the conversion of
 * results into what events and methods hand the application.
 * Part of the client; applications import `pushwire.js`, which re-exports
 * what they need.
 * @module
 */

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
 * The number of bytes `text` takes in UTF-8.
 * @param {string} text
 */
export function utf8Length(text) {
  let bytes = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x80) bytes += 1;
    else if (c < 0x800) bytes += 2;
    else if (c >= 0xd800 && c < 0xdc00 && i + 1 < text.length) {
      bytes += 4; // a surrogate pair
      i += 1;
    } else bytes += 3;
  }
  return bytes;
}

/**
 * Commands as frames of at most `maxBytes` bytes each (UTF-8, `\n`
 * between commands), in order; a command larger than `maxBytes` goes
 * alone. The hub reads at most 64 KiB per WebSocket message and per
 * emulation request.
 * @param {object[]} commands
 * @param {number} maxBytes
 * @returns {string[]}
 */
export function batchCommands(commands, maxBytes) {
  const frames = [];
  let frame = [];
  let size = 0;
  for (const command of commands) {
    const json = JSON.stringify(command);
    const bytes = utf8Length(json);
    if (frame.length > 0 && size + 1 + bytes > maxBytes) {
      frames.push(frame.join('\n'));
      frame = [];
      size = 0;
    }
    size += (frame.length > 0 ? 1 : 0) + bytes;
    frame.push(json);
  }
  if (frame.length > 0) frames.push(frame.join('\n'));
  return frames;
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
// Message shapes


/** A ClientInfo from the wire, with camelCase keys and no undefined ones. */
export const camelInfo = (info) => {
  if (!info) return info;
  const out = { user: info.user ?? '', client: info.client ?? '' };
  if (info.conn_info !== undefined) out.connInfo = info.conn_info;
  if (info.chan_info !== undefined) out.chanInfo = info.chan_info;
  return out;
};

/** The `publication` event context of a Publication on `channel`. */
export const publicationContext = (channel, pub) => {
  const ctx = { channel, data: pub.data };
  if (pub.info) ctx.info = camelInfo(pub.info);
  if (pub.offset) ctx.offset = pub.offset;
  if (pub.tags) ctx.tags = pub.tags;
  return ctx;
};

/** A history result for the application: `{publications, offset, epoch}`. */
export const historyResult = (result) => ({
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

/** The history request for `channel` from the application's options. */
export const historyRequest = (channel, opts = {}) => {
  const req = { channel };
  if (opts.limit !== undefined) req.limit = opts.limit;
  if (opts.since) req.since = { offset: opts.since.offset ?? 0, epoch: opts.since.epoch ?? '' };
  if (opts.reverse) req.reverse = true;
  return req;
};

/** A presence result for the application: `{clients}`. */
export const presenceResult = (result) => {
  const clients = {};
  for (const [id, info] of Object.entries(result.presence || {})) clients[id] = camelInfo(info);
  return { clients };
};

/** The {@link PushwireError} of a reply's `error`. */
export const replyError = (error) =>
  new PushwireError(error.code ?? 0, error.message || `error ${error.code}`, !!error.temporary);

/** The `subscribed` event context of a SubscribeResult on `channel`. */
export const subscribedContext = (channel, result) => {
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
