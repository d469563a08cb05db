/**
 * `createWsimClient` for browsers (the `browser` condition of `wsim/client`,
 * and `dist/browser/wsim-client.js`, one ESM file): the standard WebSocket,
 * the token as a subprotocol by default (a page cannot set headers) or in the
 * query, and `persist` in `sessionStorage`.
 */
import { browserSocketFactory, type WebSocketConstructor } from '../transport/browser-socket.ts';
import { createWsimClientOn, type StorageLike, type WsimClient, type WsimClientCoreOptions } from './client-core.ts';

export type * from './client-core.ts';

export interface WsimClientOptions extends WsimClientCoreOptions {
  /** Default 'subprotocol' (kept out of URLs and so out of access logs). */
  tokenIn?: 'subprotocol' | 'query';
}

const platformGlobals = globalThis as unknown as { WebSocket?: WebSocketConstructor; sessionStorage?: StorageLike };

export function createWsimClient(options: WsimClientOptions): WsimClient {
  const WebSocketImpl = platformGlobals.WebSocket;
  if (!WebSocketImpl) throw new Error('createWsimClient: this platform has no standard WebSocket');
  return createWsimClientOn(
    {
      createSocket: browserSocketFactory(WebSocketImpl),
      // the browser factory turns the header form into a subprotocol
      tokenIn: options.tokenIn === 'query' ? 'query' : 'header',
      defaultStorage: () => platformGlobals.sessionStorage,
    },
    options,
  );
}
