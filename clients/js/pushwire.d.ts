// Type declarations for pushwire.js, the client of pushwire's hub.

/** This client's version. */
export const VERSION: string;

/** An error from the server (`code` ≥ 100) or from the client itself (`code` < 100, see `errorCodes`). */
export class PushwireError extends Error {
  constructor(code: number, message: string, temporary?: boolean);
  readonly name: 'PushwireError';
  /** The error code: < 100 client-side, ≥ 100 from the server. */
  code: number;
  /** The server marked it temporary: retrying may succeed. */
  temporary: boolean;
}

/** Client-side error codes (below 100). */
export const errorCodes: Readonly<{
  timeout: 1;
  transportClosed: 2;
  clientDisconnected: 3;
  clientClosed: 4;
  clientConnectToken: 5;
  clientRefreshToken: 6;
  subscriptionUnsubscribed: 7;
  subscriptionSubscribeToken: 8;
  subscriptionRefreshToken: 9;
  transportWriteError: 10;
  connectionClosed: 11;
  badConfiguration: 12;
}>;

/** Codes of the `connecting` event that the client itself chose. */
export const connectingCodes: Readonly<{
  connectCalled: 0;
  transportClosed: 1;
  noPing: 2;
  subscribeTimeout: 3;
  unsubscribeError: 4;
}>;

/** Codes of the `disconnected` event that the client itself chose. */
export const disconnectedCodes: Readonly<{
  disconnectCalled: 0;
  unauthorized: 1;
  badProtocol: 2;
  messageSizeLimit: 3;
}>;

/** Codes of a subscription's `subscribing` event that the client chose. */
export const subscribingCodes: Readonly<{ subscribeCalled: 0; transportClosed: 1 }>;

/** Codes of a subscription's `unsubscribed` event that the client chose. */
export const unsubscribedCodes: Readonly<{ unsubscribeCalled: 0; unauthorized: 1; clientClosed: 2 }>;

/** Whether the client reconnects after a close (or `disconnect` push) with `code`. */
export function reconnectAfterClose(code: number): boolean;
/** What the client does after a `connect` error reply. */
export function connectErrorAction(error: { code: number; temporary?: boolean }): 'reconnect' | 'refreshToken' | 'stop';
/** What a subscription does after a `subscribe` error reply. */
export function subscribeErrorAction(error: { code: number; temporary?: boolean }): 'resubscribe' | 'refreshToken' | 'unsubscribe';
/** Whether a subscription subscribes again after the server's `unsubscribe` push with `code`. */
export function resubscribeAfterUnsubscribe(code: number): boolean;
/** Full-jitter backoff: `min` plus a random share of `min · 2^attempt`, at most `max` (milliseconds). */
export function backoffDelay(attempt: number, min: number, max: number, random?: () => number): number;
/** The number of bytes `text` takes in UTF-8. */
export function utf8Length(text: string): number;
/** Commands as frames of at most `maxBytes` bytes each, in order; a larger command goes alone. */
export function batchCommands(commands: object[], maxBytes: number): string[];
/** Commands joined into one frame. */
export function encodeCommands(commands: object[]): string;
/** The replies and pushes of one frame; throws `PushwireError` on a line that is not a JSON object. */
export function decodeFrame(text: string): object[];

/** Splits a byte stream into lines, holding at most `maxLine` characters of an unfinished one. */
export class LineDecoder {
  constructor(maxLine?: number);
  push(chunk: Uint8Array | string): string[];
}

/** Parses a `text/event-stream` into the data of each event. */
export class EventStreamDecoder {
  constructor(maxEvent?: number);
  push(chunk: Uint8Array | string): string[];
}

/** A position in a channel's stream. */
export interface StreamPositionValue {
  offset: number;
  epoch: string;
}

/** A subscription's place in its stream, which drives recovery and drops duplicates. */
export class StreamPosition {
  constructor(since?: Partial<StreamPositionValue> | null);
  offset: number | null;
  epoch: string | null;
  recover: boolean;
  subscribeFields(): { recover?: true; offset?: number; epoch?: string };
  subscribed(result: { recoverable?: boolean; positioned?: boolean; epoch?: string; offset?: number }): void;
  admit(offset: number | undefined): boolean;
  reset(): void;
}

/** What a transport gets from its environment. */
export interface TransportEnv {
  WebSocket?: any;
  fetch?: typeof fetch;
  EventSource?: any;
  emulationEndpoint: string;
  maxMessageSize: number;
  maxBatchBytes: number;
}

/** What a transport reports to the client; `onClose` at most once, never after `close()`. */
export interface TransportHandlers {
  onOpen(): void;
  onMessage(text: string): void;
  onClose(ctx: { code: number; reason: string }): void;
  /** The server refused these commands (an emulation request answered 413 or 400); the transport goes on. */
  onRefused?(text: string, status: number): void;
}

/** A transport instance (see `registerTransport`). */
export interface Transport {
  readonly name: string;
  /** Later commands go by POST to the emulation endpoint (`send(text, session, node)`). */
  readonly emulation: boolean;
  open(initial: string, handlers: TransportHandlers): void;
  send(text: string, session?: string, node?: string): void;
  close(): void;
}

/** A transport class (see `registerTransport`). */
export interface TransportClass {
  new (endpoint: string, env: TransportEnv): Transport;
  supported(env: TransportEnv): boolean;
}

export const WebSocketTransport: TransportClass;
export const HttpStreamTransport: TransportClass;
export const SseTransport: TransportClass;

/** The order a client tries transports in by default. */
export const DEFAULT_TRANSPORTS: readonly string[];

/** Makes a transport available under `name` (its endpoint is `path` under the hub's base URL). */
export function registerTransport(name: string, transport: TransportClass, where: { path: string; websocket?: boolean }): void;

/** The hub's base URL from a `ws(s)://…/connection/websocket`, `http(s)://` or relative URL. */
export function hubBase(url: string): URL;

/** The URL of `path` under the hub's base (`ws:`/`wss:` when `websocket`). */
export function endpointUnder(base: URL, path: string, websocket?: boolean): string;

/** The endpoints a client would try, in order. */
export function transportPlan(
  base: URL,
  wanted: readonly (string | TransportEndpoint)[],
  env: TransportEnv,
): { name: string; endpoint: string; Transport: TransportClass }[];

/** A transport with an explicit endpoint. */
export interface TransportEndpoint {
  transport: string;
  endpoint?: string;
}

export type ClientState = 'disconnected' | 'connecting' | 'connected';
export type SubscriptionState = 'unsubscribed' | 'subscribing' | 'subscribed';

/** Options of `new Client(url, options)`. */
export interface ClientOptions {
  /** The connection token (JWT). */
  token: string;
  /** Called for a token when there is none, after error 109 (expired), and before the token's `ttl` runs out. An empty string means unauthorized: the client stops. */
  getToken: ((ctx: {}) => Promise<string>) | null;
  /** Sent with the connect command. */
  data: unknown;
  /** Called for the connect command's `data` on every connect. */
  getData: (() => Promise<unknown>) | null;
  /** The client's name, sent with connect (default `pushwire.js`). */
  name: string;
  /** The application's version, sent with connect. */
  version: string;
  /** The transports to try, in order (default `websocket`, `http_stream`, `sse`, `long_polling`); one name forces it. */
  transports: string | readonly (string | TransportEndpoint)[];
  /** A WebSocket constructor (default: the global one); `false` never uses WebSocket. */
  websocket: any;
  /** A fetch function (default: the global one). */
  fetch: typeof fetch | null;
  /** An EventSource constructor (default: the global one; without one SSE is read with fetch). */
  eventsource: any;
  /** Where emulated transports post commands (default: `<base>/emulation`). */
  emulationEndpoint: string;
  /** Milliseconds a command, or a transport's connect, may take (default 5000). */
  timeout: number;
  /** Base of the reconnect backoff, milliseconds (default 500). */
  minReconnectDelay: number;
  /** Cap of the reconnect backoff, milliseconds (default 20000). */
  maxReconnectDelay: number;
  /** How much later than the announced ping interval a ping may come before the client reconnects (default 10000). */
  maxServerPingDelay: number;
  /** The longest message an HTTP stream or event stream may carry, in characters (default 16 MiB). */
  maxMessageSize: number;
  /** Commands issued in one tick leave in frames (and emulation requests) of at most this many bytes (default 32 KiB; the hub takes 64 KiB). */
  maxBatchBytes: number;
  /** Logs frames with console.debug. */
  debug: boolean;
}

export const DEFAULT_OPTIONS: Readonly<ClientOptions>;

/** Who is behind a connection. */
export interface ClientInfo {
  user: string;
  client: string;
  connInfo?: unknown;
  chanInfo?: unknown;
}

export interface PublicationContext {
  channel: string;
  data: any;
  info?: ClientInfo;
  offset?: number;
  tags?: Record<string, string>;
}

export interface JoinLeaveContext {
  channel: string;
  info: ClientInfo;
}

export interface StateContext<S> {
  newState: S;
  oldState: S;
}

export interface CodeReason {
  code: number;
  reason: string;
}

export interface ConnectedContext {
  client: string | null;
  transport: string;
  data?: any;
}

export interface ErrorContext {
  type: string;
  error: PushwireError | Error;
  channel?: string;
}

export interface SubscribedContext {
  channel: string;
  recoverable: boolean;
  positioned: boolean;
  /** The subscribe asked to recover from a position. */
  wasRecovering: boolean;
  /** Everything missed since that position was delivered (with `publication` events). */
  recovered: boolean;
  streamPosition?: StreamPositionValue;
  data?: any;
}

export interface RecoveryFailedContext {
  channel: string;
  streamPosition?: StreamPositionValue;
}

export interface HistoryOptions {
  /** How many (0: only the position; -1: as many as the server allows). */
  limit?: number;
  /** After (or, with `reverse`, before) this position. */
  since?: Partial<StreamPositionValue>;
  /** Newest first. */
  reverse?: boolean;
}

export interface HistoryResult {
  publications: Omit<PublicationContext, 'channel'>[];
  offset: number;
  epoch: string;
}

export interface PresenceResult {
  clients: Record<string, ClientInfo>;
}

export interface PresenceStatsResult {
  numClients: number;
  numUsers: number;
}

interface ClientEvents {
  state: StateContext<ClientState>;
  connecting: CodeReason;
  connected: ConnectedContext;
  disconnected: CodeReason;
  error: ErrorContext;
  message: { data: any };
  subscribing: CodeReason & { channel: string };
  subscribed: SubscribedContext;
  unsubscribed: CodeReason & { channel: string };
  publication: PublicationContext;
  join: JoinLeaveContext;
  leave: JoinLeaveContext;
  recoveryFailed: RecoveryFailedContext;
}

interface SubscriptionEvents {
  state: StateContext<SubscriptionState>;
  subscribing: CodeReason & { channel: string };
  subscribed: SubscribedContext;
  unsubscribed: CodeReason & { channel: string };
  publication: PublicationContext;
  join: JoinLeaveContext;
  leave: JoinLeaveContext;
  error: ErrorContext;
  recoveryFailed: RecoveryFailedContext;
}

declare class Emitter<E> {
  on<K extends keyof E>(event: K, listener: (ctx: E[K]) => void): this;
  once<K extends keyof E>(event: K, listener: (ctx: E[K]) => void): this;
  off<K extends keyof E>(event: K, listener?: (ctx: E[K]) => void): this;
  removeAllListeners<K extends keyof E>(event?: K): this;
  emit<K extends keyof E>(event: K, ctx: E[K]): boolean;
}

/** Options of `client.newSubscription(channel, options)`. */
export interface SubscriptionOptions {
  /** A subscription token (JWT). */
  token?: string;
  /** Called for a subscription token when there is none, after error 109, and before its `ttl` runs out. */
  getToken?: (ctx: { channel: string }) => Promise<string>;
  /** Sent with the subscribe command. */
  data?: unknown;
  /** Recover from this position on the first subscribe (`{}`: the latest publication, in cache mode). */
  since?: Partial<StreamPositionValue>;
  positioned?: boolean;
  recoverable?: boolean;
  /** Ask for join/leave pushes. */
  joinLeave?: boolean;
  minResubscribeDelay?: number;
  maxResubscribeDelay?: number;
}

/** A connection to pushwire's hub, kept up across failures. */
export class Client extends Emitter<ClientEvents> {
  constructor(url: string, options?: Partial<ClientOptions>);
  /** `disconnected`, `connecting` or `connected`. */
  readonly state: ClientState;
  /** Why the client is in its state. */
  readonly stateReason: CodeReason;
  /** The client ID the server gave this connection. */
  readonly clientId: string | null;
  /** The transport in use, or last used. */
  readonly transport: string | null;
  connect(): void;
  disconnect(): void;
  ready(timeout?: number): Promise<void>;
  newSubscription(channel: string, options?: SubscriptionOptions): Subscription;
  getSubscription(channel: string): Subscription | null;
  removeSubscription(sub: Subscription | null): void;
  subscriptions(): Record<string, Subscription>;
  rpc(method: string, data: unknown): Promise<{ data: any }>;
  send(data: unknown): Promise<void>;
  publish(channel: string, data: unknown): Promise<{}>;
  history(channel: string, options?: HistoryOptions): Promise<HistoryResult>;
  presence(channel: string): Promise<PresenceResult>;
  presenceStats(channel: string): Promise<PresenceStatsResult>;
}

/** A client-side subscription to one channel. */
export class Subscription extends Emitter<SubscriptionEvents> {
  readonly client: Client;
  readonly channel: string;
  readonly state: SubscriptionState;
  /** The last delivered position, or null before a recoverable subscribe. */
  readonly streamPosition: StreamPositionValue | null;
  subscribe(): void;
  unsubscribe(): void;
  ready(timeout?: number): Promise<void>;
  publish(data: unknown): Promise<{}>;
  presence(): Promise<PresenceResult>;
  presenceStats(): Promise<PresenceStatsResult>;
  history(options?: HistoryOptions): Promise<HistoryResult>;
}

export default Client;
