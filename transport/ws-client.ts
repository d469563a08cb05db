/**
 * A `Link` over a WebSocket, and the client side of the real transport.
 *
 * `SocketLink` is written against the part of the WebSocket interface that
 * browsers and `ws` share (send, close, readyState, bufferedAmount), so the
 * same link semantics hold on both sides of a real connection: the server
 * wraps each accepted `ws` socket in one (ws-server.ts), the client wraps its
 * own socket in one (`connectWs`). The semantics are the simulated network's:
 *
 * - the side that closes is done at once: it hears onClose (with the code it
 *   asked for) on the next microtask and no frame after it, whatever the
 *   socket still does; the peer hears the code the close frame carried;
 * - a send over the buffer cap is accepted and reports backpressure, and
 *   onDrain follows once `bufferedAmount` is back under the cap (polled:
 *   browsers have no drain event and no send callback);
 * - a close that the peer never completes (it stopped reading) is cut short
 *   after a grace period where the platform can (`terminate` in Node); the
 *   default `ws` close timeout is 30 s, far too long to hold a dead socket;
 * - where the byte stream under the socket is at hand (a Node server), it is
 *   corked from the first send of a tick to the next microtask: the frames a
 *   session flushes at once leave in one write (one syscall), not one each.
 */
import type { CloseInfo, ConnectRequest, Link, LinkHandler, SendResult } from './link.ts';

/** The common interface of the browser WebSocket and `ws`'s WebSocket. */
export interface SocketLike {
  readonly readyState: number;
  readonly bufferedAmount: number;
  send(data: string): void;
  close(code?: number, reason?: string): void;
}

/** readyState values (the same constants in browsers and `ws`). */
export const ReadyState = { connecting: 0, open: 1, closing: 2, closed: 3 } as const;

export const DEFAULT_BUFFER_CAP = 1024 * 1024;
export const DEFAULT_CLOSE_GRACE_MS = 1000;
export const DEFAULT_DRAIN_POLL_MS = 5;

/** Codes a peer may not put in a close frame (RFC 6455 §7.4.1), and reasons over 123 bytes, would make `close` throw. */
export function sendableCloseCode(code: number): number {
  const ok = (code >= 1000 && code <= 1014 && code !== 1004 && code !== 1005 && code !== 1006) || (code >= 3000 && code <= 4999);
  return ok ? code : 1000;
}

const utf8 = new TextEncoder();
const byteLength = (text: string): number => utf8.encode(text).length;

export function clipReason(reason: string): string {
  if (byteLength(reason) <= 123) return reason;
  let out = reason.slice(0, 123);
  while (byteLength(out) > 123) out = out.slice(0, -1);
  return out;
}

export interface SocketLinkOptions {
  id: string;
  /** Buffered bytes above which a send reports backpressure (default 1 MB). */
  bufferCap?: number;
  /** How long a close may wait for the peer before the socket is cut (default 1 s). */
  closeGraceMs?: number;
  drainPollMs?: number;
  /** Cut the socket without a close handshake (Node only; a browser waits for its own timeout). */
  terminate?: () => void;
  /** Told when this side closes (a server counts its closes by code). */
  closing?: (info: CloseInfo) => void;
  /** Shared counters (a server sums its links); default: the link's own. */
  counters?: SocketLinkCounters;
  /** The byte stream under the socket (Node's net.Socket): corked while a tick's frames go out. */
  stream?: Corkable;
}

/** What a stream offers to gather several writes into one (Node's Writable). */
export interface Corkable {
  cork(): void;
  uncork(): void;
}

export interface SocketLinkCounters {
  backpressure: number;
  drains: number;
}

/** One side of a real connection, with the simulated network's link semantics. */
export class SocketLink implements Link {
  readonly id: string;
  private handler: LinkHandler | null;
  private done = false;
  private pressured = false;
  private drainTimer: ReturnType<typeof setInterval> | null = null;
  private graceTimer: ReturnType<typeof setTimeout> | null = null;
  private corked = false;
  private readonly cap: number;
  private readonly closeGraceMs: number;
  private readonly drainPollMs: number;
  readonly counters: SocketLinkCounters;
  /** Set when this side closed: the code it asked for. */
  localClose: CloseInfo | null = null;
  /** Set when the socket reported its close. */
  socketClose: CloseInfo | null = null;

  constructor(
    readonly socket: SocketLike,
    handler: LinkHandler | null,
    private readonly options: SocketLinkOptions,
  ) {
    this.id = options.id;
    this.handler = handler;
    this.cap = options.bufferCap ?? DEFAULT_BUFFER_CAP;
    this.closeGraceMs = options.closeGraceMs ?? DEFAULT_CLOSE_GRACE_MS;
    this.drainPollMs = options.drainPollMs ?? DEFAULT_DRAIN_POLL_MS;
    this.counters = options.counters ?? { backpressure: 0, drains: 0 };
  }

  /** Server side: the handler exists only once the server accepted the link. */
  attach(handler: LinkHandler): void {
    this.handler = handler;
  }

  /** The link has heard (or is about to hear) its close. */
  get closed(): boolean {
    return this.done;
  }

  // ---- Link ------------------------------------------------------------------

  send(data: string): SendResult {
    if (this.done || this.socket.readyState !== ReadyState.open) return { ok: false, reason: 'closed' };
    if (this.options.stream && !this.corked) this.cork(this.options.stream);
    try {
      this.socket.send(data);
    } catch {
      return { ok: false, reason: 'closed' };
    }
    const bufferedBytes = this.socket.bufferedAmount;
    if (bufferedBytes <= this.cap) return { ok: true, bufferedBytes };
    if (!this.pressured) {
      this.pressured = true;
      this.counters.backpressure++;
      this.drainTimer = setInterval(() => this.checkDrain(), this.drainPollMs);
    }
    return { ok: true, bufferedBytes, backpressure: true };
  }

  close(code: number, reason: string): void {
    if (this.done) return;
    this.done = true;
    this.localClose = { code, reason };
    this.options.closing?.(this.localClose);
    this.stopDrainWatch();
    if (this.socket.readyState === ReadyState.connecting || this.socket.readyState === ReadyState.open) {
      try {
        this.socket.close(sendableCloseCode(code), clipReason(reason));
      } catch {
        this.options.terminate?.();
      }
    }
    if (this.options.terminate && this.socketClose === null) {
      const terminate = this.options.terminate;
      this.graceTimer = setTimeout(() => {
        this.graceTimer = null;
        if (this.socketClose === null) terminate();
      }, this.closeGraceMs);
    }
    const info = { code, reason };
    queueMicrotask(() => this.handler?.onClose(info));
  }

  bufferedBytes(): number {
    return this.socket.bufferedAmount;
  }

  // ---- what the socket reports (wired by the side that owns the socket) ---------

  opened(): void {
    if (!this.done) this.handler?.onOpen();
  }

  message(data: string): void {
    if (!this.done) this.handler?.onFrame(data);
  }

  /** The socket is closed for good: the code the peer sent, or 1006. */
  socketClosed(code: number, reason: string): void {
    if (this.socketClose !== null) return;
    this.socketClose = { code, reason };
    if (this.graceTimer) clearTimeout(this.graceTimer);
    this.graceTimer = null;
    this.stopDrainWatch();
    if (this.done) return;
    this.done = true;
    this.handler?.onClose({ code, reason });
  }

  /** Gather this tick's sends into one write; released on the next microtask, whatever happens in between. */
  private cork(stream: Corkable): void {
    this.corked = true;
    stream.cork();
    queueMicrotask(() => {
      this.corked = false;
      stream.uncork();
    });
  }

  private checkDrain(): void {
    if (this.done || this.socket.readyState !== ReadyState.open) return this.stopDrainWatch();
    if (this.socket.bufferedAmount > this.cap) return;
    this.stopDrainWatch();
    this.counters.drains++;
    this.handler?.onDrain?.();
  }

  private stopDrainWatch(): void {
    this.pressured = false;
    if (this.drainTimer) clearInterval(this.drainTimer);
    this.drainTimer = null;
  }
}

// ---- the client side ----------------------------------------------------------------

/** How a refused upgrade reaches the client machine: a close code it knows. */
export function closeForHttpStatus(status: number): CloseInfo {
  if (status === 401) return { code: 4401, reason: 'unauthorized (HTTP 401 at upgrade)' };
  if (status === 403) return { code: 4403, reason: 'forbidden (HTTP 403 at upgrade)' };
  if (status === 503) return { code: 1013, reason: 'server not ready (HTTP 503 at upgrade)' };
  return { code: 1006, reason: `upgrade refused (HTTP ${status})` };
}

/** A socket with the standard event-handler properties (browser WebSocket, `ws`). */
export interface EventSocket extends SocketLike {
  onopen: ((event: unknown) => void) | null;
  onmessage: ((event: { data: unknown }) => void) | null;
  onclose: ((event: { code: number; reason: string }) => void) | null;
  onerror: ((event: unknown) => void) | null;
}

/** Opens a socket; `refused` is called with the HTTP status of a refused upgrade when the platform tells (Node does, browsers do not). */
export type SocketFactory = (url: string, headers: Record<string, string>, refused: (status: number) => void) => { socket: EventSocket; terminate?: () => void };

export interface WsClientOptions {
  /** ws://host:port/path of the server. */
  url: string;
  request: ConnectRequest;
  handler: LinkHandler;
  /**
   * Where the token travels at the upgrade: a header (Node), the query
   * (browsers cannot set headers), or both. The hello frame carries it again.
   */
  tokenIn?: 'header' | 'query' | 'both';
  bufferCap?: number;
  closeGraceMs?: number;
  /** How a socket is opened: `nodeSocketFactory` (node-socket.ts) or `browserSocketFactory` (browser-socket.ts). */
  createSocket: SocketFactory;
}

/** The URL of one connection attempt: the endpoint as a hint for the server's logs (the server names connections itself). */
export function connectUrl(base: string, request: ConnectRequest, tokenInQuery: boolean): string {
  const url = new URL(base);
  url.searchParams.set('endpoint', request.endpoint);
  if (tokenInQuery) url.searchParams.set('token', request.token);
  return url.toString();
}

const lenient = new TextDecoder('utf-8');

/** Open a client link; the handler hears onOpen, or onClose when the connect fails. */
export function connectWs(options: WsClientOptions): SocketLink {
  const tokenIn = options.tokenIn ?? 'header';
  const headers: Record<string, string> = tokenIn === 'query' ? {} : { authorization: `Bearer ${options.request.token}` };
  let refusedWith: number | null = null;
  const factory = options.createSocket;
  const { socket, terminate } = factory(connectUrl(options.url, options.request, tokenIn !== 'header'), headers, (status) => {
    refusedWith = status;
  });
  const link = new SocketLink(socket, options.handler, {
    id: options.request.connId,
    ...(options.bufferCap !== undefined ? { bufferCap: options.bufferCap } : {}),
    ...(options.closeGraceMs !== undefined ? { closeGraceMs: options.closeGraceMs } : {}),
    ...(terminate ? { terminate } : {}),
  });
  socket.onopen = () => link.opened();
  socket.onmessage = (event) => {
    // the server only sends text; anything else goes to the decoder, which refuses it
    const data = event.data;
    link.message(typeof data === 'string' ? data : data instanceof Uint8Array || data instanceof ArrayBuffer ? lenient.decode(data) : String(data));
  };
  socket.onclose = (event) => {
    if (refusedWith !== null) {
      const info = closeForHttpStatus(refusedWith);
      link.socketClosed(info.code, info.reason);
    } else link.socketClosed(event.code, event.reason);
  };
  socket.onerror = () => {};
  return link;
}
