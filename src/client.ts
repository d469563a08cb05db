/**
 * `wsim/client` in Node: the token goes in the Authorization header (or the
 * query), over `ws`, or over a standard WebSocket you pass in. Bundlers that
 * honour the `browser` export condition get browser.ts instead.
 */
import { browserSocketFactory, type WebSocketConstructor } from '../transport/browser-socket.ts';
import { nodeSocketFactory } from '../transport/node-socket.ts';
import { createWsimClientOn, type StorageLike, type WsimClient, type WsimClientCoreOptions } from './client-core.ts';

export type * from './client-core.ts';
export type { WebSocketConstructor };

export interface WsimClientOptions extends WsimClientCoreOptions {
  /** Default 'header' (Node can set headers). */
  tokenIn?: 'header' | 'query';
  /** A standard WebSocket constructor to use instead of `ws` (the token then travels as a subprotocol unless `tokenIn: 'query'`). */
  WebSocket?: WebSocketConstructor;
  /** Where `persist` keeps cursors in Node (there is no sessionStorage): required for `persist`. */
  storage?: StorageLike;
}

export function createWsimClient(options: WsimClientOptions): WsimClient {
  return createWsimClientOn(
    {
      createSocket: options.WebSocket ? browserSocketFactory(options.WebSocket) : nodeSocketFactory,
      tokenIn: options.tokenIn ?? 'header',
      defaultStorage: () => options.storage,
    },
    options,
  );
}
