/**
 * A client-only Transport: connects to someone else's server over any socket
 * factory (`ws` in Node, the standard WebSocket in a browser). Unlike
 * ws-transport.ts it imports no server code, so it bundles for browsers.
 */
import type { ConnectRequest, Link, LinkHandler, Transport } from './link.ts';
import { connectWs, type SocketFactory, type SocketLink } from './ws-client.ts';

export interface SocketTransportOptions {
  /** ws://host:port/path of the server. */
  url: string;
  createSocket: SocketFactory;
  /** Where the token travels at the upgrade (see `connectWs`). */
  tokenIn?: 'header' | 'query' | 'both';
  bufferCap?: number;
  closeGraceMs?: number;
}

export class SocketTransport implements Transport {
  private latest: SocketLink | null = null;

  constructor(private readonly options: SocketTransportOptions) {}

  listen(): void {
    throw new Error('SocketTransport is client-only: it has no server');
  }

  connect(request: ConnectRequest, client: LinkHandler): Link {
    this.latest = connectWs({ ...this.options, request, handler: client });
    return this.latest;
  }

  /** The link of the latest connection attempt (an app may drop it to test its reconnects). */
  get link(): SocketLink | null {
    return this.latest;
  }
}
