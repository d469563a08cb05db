/**
 * The server side of the real transport: a `ws` server in noServer mode on a
 * node http server, handing each accepted socket to a `ServerHandler` (the
 * hub's endpoint) as a `SocketLink`.
 *
 * What it guards before any frame reaches a session:
 * - authentication at the HTTP upgrade (Bearer header, subprotocol or `?token=`): a bad
 *   token gets a plain HTTP 401 and the TCP socket is closed; no WebSocket,
 *   no session, ever exists for it. The session authenticates the hello
 *   again (a token may expire in between: that is the session's 4401);
 * - `maxPayload` (ws closes 1009) and UTF-8 validity of text (ws closes 1007):
 *   these end the connection, as RFC 6455 says, because the frame boundary or
 *   the encoding of the stream can no longer be trusted;
 * - binary messages: answered with an `error` frame (`malformed_json`) and
 *   counted; the connection stays up. The protocol is JSON text, but one
 *   stray binary frame is a peer bug, not a reason to cut a stream of
 *   mission-critical events (the decoder answers bad text the same way);
 * - a per-connection token bucket: past it the connection is closed 1008
 *   'rate limit' (a flood is policy, not a malformed frame);
 * - ws-level ping/pong reaping of dead TCP peers (the protocol has its own
 *   heartbeat; this one also catches a peer stuck before its hello);
 * - a TCP connection that has not sent its HTTP request (headers or upgrade)
 *   within `Limits.headersTimeoutMs` is destroyed (Node's own timeouts take
 *   60-90 s);
 *
 * The link ids it gives are labels for logs and traces, never the client's
 * choice; the hub names sessions with ids of its own (unguessable).
 * - a handler that throws: the connection is closed 1011, the server lives.
 *
 * `close()` is a graceful shutdown: every socket is closed 1001 'going away'
 * (a reconnect code: clients resume elsewhere), stragglers are cut after a
 * grace period, then the http server closes.
 */
import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type RawData, type WebSocket } from 'ws';
import { DEFAULT_LIMITS } from '../machines/limits.ts';
import { encode, errorFrame } from '../machines/protocol.ts';
import type { ConnectRequest, LinkHandler, ServerHandler } from './link.ts';
import { tokenFromProtocols, WSIM_SUBPROTOCOL } from './token-carrier.ts';
import { DEFAULT_BUFFER_CAP, DEFAULT_CLOSE_GRACE_MS, SocketLink, type SocketLinkCounters } from './ws-client.ts';

export const DEFAULT_MAX_PAYLOAD = 2 * 1024 * 1024;
export const DEFAULT_RATE_LIMIT = { burst: 2000, perSecond: 1000 } as const;

export type AuthVerdict = boolean | { ok: boolean };

export interface WsServerOptions {
  /** Who hears accepted links; may be set later (`setHandler`), upgrades before that get 503. */
  handler?: ServerHandler;
  /** The token check at the upgrade (e.g. `(t) => directory.authenticate(t)`); absent = every token passes. */
  authenticate?: (token: string) => AuthVerdict;
  /** Attach to this http server instead of creating one (it must already listen, or listen later). */
  server?: http.Server;
  host?: string;
  /** 0 (default) = any free port. */
  port?: number;
  /** Only upgrades to this path are accepted (default: any path). */
  path?: string;
  maxPayload?: number;
  /** false = no limit. */
  rateLimit?: { burst: number; perSecond: number } | false;
  /** bufferedAmount above which a send reports backpressure (default 1 MB). */
  bufferCap?: number;
  /** How long a close waits for the peer's close frame before the socket is cut (default 1 s). */
  closeGraceMs?: number;
  /** ws-level ping period; a socket that missed a whole period is terminated. 0 = off (default 15 s). */
  pingIntervalMs?: number;
  /** A TCP connection without a complete HTTP request after this is destroyed (default Limits.headersTimeoutMs). */
  headersTimeoutMs?: number;
}

export interface WsServerStats {
  upgrades: number;
  /** WebSockets accepted (and handed to the handler). */
  connections: number;
  open: number;
  rejected: { unauthorized: number; notReady: number; badPath: number };
  badMessages: { binary: number; invalidUtf8: number; tooBig: number; protocol: number };
  rateLimited: number;
  backpressure: number;
  drains: number;
  /** Sockets terminated by the ws-level heartbeat. */
  reaped: number;
  /** The handler threw: the link was closed 1011. */
  internalErrors: number;
  /** TCP connections destroyed for sending no HTTP request in time. */
  headerTimeouts: number;
  /** Closes this side asked for (sessions, rate limit, shutdown), by code. */
  closedByServer: Record<number, number>;
  /** Closes the peer or the socket ended (ws's own 1007/1009 included), by code. */
  closedByPeer: Record<number, number>;
}

export interface ServerLinkInfo {
  readonly id: string;
  readonly request: ConnectRequest;
  /** The raw `ws` socket (tests terminate it to simulate a dropped connection). */
  readonly socket: WebSocket;
  readonly link: SocketLink;
}

export interface WsServer {
  /** ws://127.0.0.1:PORT/path */
  readonly url: string;
  readonly port: number;
  setHandler(handler: ServerHandler): void;
  stats(): WsServerStats;
  links(): ServerLinkInfo[];
  /** Graceful shutdown: 1001 to everyone, then the http server closes. */
  close(): Promise<void>;
}

/** A per-connection token bucket. */
class TokenBucket {
  private tokens: number;
  private last = performance.now();

  constructor(private readonly burst: number, private readonly perSecond: number) {
    this.tokens = burst;
  }

  take(): boolean {
    const now = performance.now();
    this.tokens = Math.min(this.burst, this.tokens + ((now - this.last) * this.perSecond) / 1000);
    this.last = now;
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }
}

interface Entry extends ServerLinkInfo {
  alive: boolean;
  bucket: TokenBucket | null;
}

const BINARY_REFUSED = encode(errorFrame({ code: 'malformed_json', message: 'binary messages are not accepted: frames are JSON text' }));

function bearer(header: string | undefined): string | null {
  const match = header ? /^Bearer\s+(\S+)\s*$/i.exec(header) : null;
  return match?.[1] ?? null;
}

function text(data: RawData): string {
  if (Array.isArray(data)) return Buffer.concat(data).toString('utf8');
  if (data instanceof ArrayBuffer) return Buffer.from(data).toString('utf8');
  return data.toString('utf8');
}

/** Answer an upgrade with a plain HTTP status, then close the TCP socket: no WebSocket exists. */
function refuse(socket: Duplex, status: number, message: string): void {
  const body = `${message}\n`;
  socket.once('finish', () => socket.destroy());
  socket.end(
    `HTTP/1.1 ${status} ${http.STATUS_CODES[status] ?? ''}\r\nConnection: close\r\nContent-Type: text/plain\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
  );
  // a peer that never reads must not hold the socket
  setTimeout(() => socket.destroy(), 1000).unref();
}

const bump = (counts: Record<number, number>, code: number): void => {
  counts[code] = (counts[code] ?? 0) + 1;
};

export async function startWsServer(options: WsServerOptions = {}): Promise<WsServer> {
  const owned = options.server === undefined;
  const server = options.server ?? http.createServer((_req, res) => {
    res.writeHead(426, { 'content-type': 'text/plain', connection: 'close' }).end('WebSocket upgrade required\n');
  });
  const wss = new WebSocketServer({
    noServer: true,
    maxPayload: options.maxPayload ?? DEFAULT_MAX_PAYLOAD,
    perMessageDeflate: false,
    clientTracking: false,
    // a browser that carried its token as a subprotocol needs one of its offers selected (never the token)
    handleProtocols: (offered) => (offered.has(WSIM_SUBPROTOCOL) ? WSIM_SUBPROTOCOL : false),
  });
  const rateLimit = options.rateLimit === undefined ? DEFAULT_RATE_LIMIT : options.rateLimit;
  const counters: SocketLinkCounters = { backpressure: 0, drains: 0 };
  const stats: Omit<WsServerStats, 'open' | 'backpressure' | 'drains'> = {
    upgrades: 0,
    connections: 0,
    rejected: { unauthorized: 0, notReady: 0, badPath: 0 },
    badMessages: { binary: 0, invalidUtf8: 0, tooBig: 0, protocol: 0 },
    rateLimited: 0,
    reaped: 0,
    internalErrors: 0,
    headerTimeouts: 0,
    closedByServer: {},
    closedByPeer: {},
  };
  const entries = new Map<string, Entry>();
  let handler = options.handler ?? null;
  let closing: Promise<void> | null = null;
  let seq = 0;

  /** Run a handler call; a throw is a bug on the server side: 1011 for this link, nothing for the others. */
  const guarded = (entry: Entry, fn: () => void): void => {
    try {
      fn();
    } catch {
      stats.internalErrors++;
      entry.link.close(1011, 'internal error');
    }
  };

  /** A label for the link: a counter of this server's, whatever the client asks for. */
  const linkId = (): string => `ws-${++seq}`;

  const accept = (socket: WebSocket, request: ConnectRequest, stream: Duplex): void => {
    const id = request.connId;
    const link = new SocketLink(socket, null, {
      id,
      stream,
      bufferCap: options.bufferCap ?? DEFAULT_BUFFER_CAP,
      closeGraceMs: options.closeGraceMs ?? DEFAULT_CLOSE_GRACE_MS,
      terminate: () => socket.terminate(),
      closing: (info) => bump(stats.closedByServer, info.code),
      counters,
    });
    const entry: Entry = { id, request, socket, link, alive: true, bucket: rateLimit ? new TokenBucket(rateLimit.burst, rateLimit.perSecond) : null };
    entries.set(id, entry);
    stats.connections++;

    socket.on('message', (data, isBinary) => {
      entry.alive = true;
      if (link.closed) return;
      if (entry.bucket && !entry.bucket.take()) {
        stats.rateLimited++;
        link.close(1008, 'rate limit');
        return;
      }
      if (isBinary) {
        stats.badMessages.binary++;
        link.send(BINARY_REFUSED);
        return;
      }
      const frame = text(data);
      guarded(entry, () => link.message(frame));
    });
    socket.on('pong', () => {
      entry.alive = true;
    });
    socket.on('error', (error: Error & { code?: string }) => {
      // ws closes the socket itself (1009 / 1007 / 1002); the close event follows
      if (error.code === 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH') stats.badMessages.tooBig++;
      else if (error.code === 'WS_ERR_INVALID_UTF8') stats.badMessages.invalidUtf8++;
      else if (error.code?.startsWith('WS_ERR_')) stats.badMessages.protocol++;
    });
    socket.on('close', (code, reason) => {
      entries.delete(id);
      if (!link.localClose) bump(stats.closedByPeer, code);
      guarded(entry, () => link.socketClosed(code, reason.toString('utf8')));
    });

    if (closing || handler === null) {
      link.close(1001, 'going away');
      return;
    }
    const server = handler;
    guarded(entry, () => {
      const linkHandler: LinkHandler = server.accept(link, request);
      link.attach(linkHandler);
      link.opened();
    });
  };

  const onUpgrade = (req: http.IncomingMessage, socket: Duplex, head: Buffer): void => {
    stats.upgrades++;
    socket.on('error', () => socket.destroy());
    const url = new URL(req.url ?? '/', 'http://localhost');
    if (options.path !== undefined && url.pathname !== options.path) {
      stats.rejected.badPath++;
      return refuse(socket, 404, 'no WebSocket endpoint here');
    }
    if (closing || handler === null) {
      stats.rejected.notReady++;
      return refuse(socket, 503, 'not ready');
    }
    const token = bearer(req.headers.authorization) ?? tokenFromProtocols(req.headers['sec-websocket-protocol']) ?? url.searchParams.get('token') ?? '';
    const verdict = token === '' ? false : options.authenticate ? options.authenticate(token) : true;
    if (!(typeof verdict === 'boolean' ? verdict : verdict.ok)) {
      stats.rejected.unauthorized++;
      return refuse(socket, 401, 'invalid or expired token');
    }
    const request: ConnectRequest = {
      connId: linkId(),
      ...(url.searchParams.has('conn') ? { hint: url.searchParams.get('conn')! } : {}),
      endpoint: url.searchParams.get('endpoint') ?? `${req.socket.remoteAddress ?? '?'}:${req.socket.remotePort ?? '?'}`,
      token,
    };
    wss.handleUpgrade(req, socket, head, (ws) => accept(ws, request, socket));
  };
  server.on('upgrade', onUpgrade);

  // a socket that never sends its request must not stay: Node alone keeps it 60-90 s
  const headersTimeoutMs = options.headersTimeoutMs ?? DEFAULT_LIMITS.headersTimeoutMs;
  const waiting = new WeakMap<object, NodeJS.Timeout>();
  const onConnection = (socket: Socket): void => {
    const timer = setTimeout(() => {
      stats.headerTimeouts++;
      socket.destroy();
    }, headersTimeoutMs);
    timer.unref();
    waiting.set(socket, timer);
    socket.once('close', () => clearTimeout(timer));
  };
  // the parser has the whole request once 'request' or 'upgrade' fires
  const heard = (req: http.IncomingMessage): void => clearTimeout(waiting.get(req.socket));
  server.on('connection', onConnection);
  server.prependListener('upgrade', heard);
  server.prependListener('request', heard);

  const pingEvery = options.pingIntervalMs ?? 15_000;
  const pinger =
    pingEvery > 0
      ? setInterval(() => {
          for (const entry of entries.values()) {
            if (!entry.alive) {
              stats.reaped++;
              entry.socket.terminate();
              continue;
            }
            entry.alive = false;
            try {
              entry.socket.ping();
            } catch {
              // closing already
            }
          }
        }, pingEvery)
      : null;
  pinger?.unref();

  if (owned) {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(options.port ?? 0, options.host ?? '127.0.0.1', () => {
        server.off('error', reject);
        resolve();
      });
    });
  }
  // an http server of the caller's may still be on its way to listening: its port is known only then
  if (!owned && !server.listening) await new Promise<void>((resolve) => server.once('listening', () => resolve()));
  const address = server.address() as AddressInfo | null;
  const port = address?.port ?? 0;
  const host = options.host ?? '127.0.0.1';

  const shutdown = async (): Promise<void> => {
    if (pinger) clearInterval(pinger);
    for (const entry of [...entries.values()]) entry.link.close(1001, 'going away');
    // each link cuts its socket after its close grace; wait for that, bounded
    const deadline = performance.now() + (options.closeGraceMs ?? DEFAULT_CLOSE_GRACE_MS) + 500;
    while (entries.size > 0 && performance.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    for (const entry of [...entries.values()]) entry.socket.terminate();
    server.off('upgrade', onUpgrade);
    server.off('connection', onConnection);
    server.off('upgrade', heard);
    server.off('request', heard);
    await new Promise<void>((resolve) => wss.close(() => resolve()));
    if (owned) {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    }
  };

  return {
    url: `ws://${host}:${port}${options.path ?? '/'}`,
    port,
    setHandler(next) {
      handler = next;
    },
    stats: () => ({
      ...stats,
      rejected: { ...stats.rejected },
      badMessages: { ...stats.badMessages },
      closedByServer: { ...stats.closedByServer },
      closedByPeer: { ...stats.closedByPeer },
      open: entries.size,
      backpressure: counters.backpressure,
      drains: counters.drains,
    }),
    links: () => [...entries.values()].map(({ id, request, socket, link }) => ({ id, request, socket, link })),
    close() {
      closing ??= shutdown();
      return closing;
    },
  };
}
