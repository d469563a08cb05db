/**
 * The Transport of the real world: the same endpoints (and so the same
 * machines) as in the simulation, over `ws` sockets on loopback.
 *
 * `listen` must know the server's port before any client connects, and
 * starting a server is asynchronous, so the server is started by the factory
 * (`WsTransport.start`) and `listen` only hands it its handler. The machines
 * run on XState's default clock here: real time, real races.
 */
import type { ConnectRequest, Link, LinkHandler, ServerHandler, Transport } from './link.ts';
import { nodeSocketFactory } from './node-socket.ts';
import { connectWs, type SocketFactory, type SocketLink } from './ws-client.ts';
import { startWsServer, type WsServer, type WsServerOptions } from './ws-server.ts';

export interface WsClientSideOptions {
  tokenIn?: 'header' | 'query' | 'both';
  bufferCap?: number;
  closeGraceMs?: number;
  createSocket?: SocketFactory;
}

export interface WsTransportOptions extends WsServerOptions {
  client?: WsClientSideOptions;
}

export class WsTransport implements Transport {
  private readonly clients = new Map<string, SocketLink>();

  /**
   * @param url where clients connect
   * @param server the server this transport owns (absent: a client-only transport to someone else's server)
   */
  constructor(
    readonly url: string,
    readonly server: WsServer | null,
    private readonly clientOptions: WsClientSideOptions = {},
  ) {}

  /** A transport whose server already listens (on 127.0.0.1, a free port unless told otherwise). */
  static async start(options: WsTransportOptions = {}): Promise<WsTransport> {
    const { client, ...serverOptions } = options;
    const server = await startWsServer(serverOptions);
    return new WsTransport(server.url, server, client);
  }

  listen(handler: ServerHandler): void {
    if (!this.server) throw new Error('WsTransport.listen: this transport has no server (client-only)');
    this.server.setHandler(handler);
  }

  connect(request: ConnectRequest, client: LinkHandler): Link {
    const link = connectWs({ url: this.url, request, handler: forget(client, () => this.clients.delete(request.connId)), ...this.clientOptions, createSocket: this.clientOptions.createSocket ?? nodeSocketFactory });
    this.clients.set(request.connId, link);
    return link;
  }

  /** The client links not yet closed, by conn id (tests pause or cut their sockets). */
  clientLinks(): ReadonlyMap<string, SocketLink> {
    return this.clients;
  }

  /** Cut every client socket, then shut the server down (1001 to whoever is left). */
  async close(): Promise<void> {
    for (const link of this.clients.values()) {
      link.close(1000, 'transport closed');
      (link.socket as { terminate?: () => void }).terminate?.();
    }
    this.clients.clear();
    await this.server?.close();
  }
}

/** The handler, plus a hook once it heard its close. */
function forget(handler: LinkHandler, gone: () => void): LinkHandler {
  return {
    onOpen: () => handler.onOpen(),
    onFrame: (data) => handler.onFrame(data),
    onClose: (info) => {
      gone();
      handler.onClose(info);
    },
    onDrain: () => handler.onDrain?.(),
  };
}
