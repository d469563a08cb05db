/**
 * The transport interface: what the world needs from a network, implemented by
 * the simulated network (`sim/network.ts`) and by real `ws` sockets
 * (`transport/ws-*.ts`). Frames are strings (JSON text); a transport never
 * parses them.
 */

export interface CloseInfo {
  code: number;
  reason: string;
}

/** What an endpoint hears from its side of a link. */
export interface LinkHandler {
  /** The link is open (client side: the connect succeeded). */
  onOpen(): void;
  onFrame(data: string): void;
  /** The link is gone; called once, also for a close this side asked for. */
  onClose(info: CloseInfo): void;
  /** The send buffer drained below its cap after a send reported backpressure. */
  onDrain?(): void;
}

export type SendResult =
  | { ok: true; bufferedBytes: number }
  /** Accepted but the buffer is over its cap: slow down. */
  | { ok: true; bufferedBytes: number; backpressure: true }
  | { ok: false; reason: 'closed' };

/** One side of an open or opening connection. */
export interface Link {
  readonly id: string;
  send(data: string): SendResult;
  close(code: number, reason: string): void;
  /** Bytes queued on this side and not yet on the wire. */
  bufferedBytes(): number;
}

export interface ConnectRequest {
  /** Stable id of the connection (one per client connection attempt). */
  connId: string;
  /** The client endpoint (used by faults: partitions by user or tenant). */
  endpoint: string;
  /** Sent at the upgrade on real sockets; in the sim the hello frame carries it too. */
  token: string;
  /** A connection id the client asked for (an old `?conn=`): passed on so the server can be seen to ignore it. */
  hint?: string;
}

export interface ServerHandler {
  /** A new connection reached the server: return how the server hears it. */
  accept(link: Link, request: ConnectRequest): LinkHandler;
}

export interface Transport {
  /** The server side: at most one server listens. */
  listen(server: ServerHandler): void;
  /** Open a connection; the handler hears onOpen or onClose (connect failed). */
  connect(request: ConnectRequest, client: LinkHandler): Link;
}
