/**
 * Opening a client socket with the standard WebSocket (browsers; Node 22+ has
 * it too). A browser cannot set headers, so a token meant for the
 * Authorization header travels as a subprotocol instead (token-carrier.ts);
 * `tokenIn: 'query'` puts it in the URL. No Node built-in is imported here.
 */
import { bearerProtocols } from './token-carrier.ts';
import type { EventSocket, SocketFactory } from './ws-client.ts';

/** The constructor of a standard WebSocket. */
export type WebSocketConstructor = new (url: string, protocols?: string | string[]) => EventSocket;

function bearerOf(headers: Record<string, string>): string | null {
  const match = headers.authorization ? /^Bearer\s+(\S+)$/.exec(headers.authorization) : null;
  return match?.[1] ?? null;
}

/** Browsers accept only 1000 and 3000–4999 in `close`: any other code is sent as 1000 rather than thrown. */
const browserCloseCode = (code: number | undefined): number | undefined =>
  code === undefined || code === 1000 || (code >= 3000 && code <= 4999) ? code : 1000;

export function browserSocketFactory(WebSocketImpl: WebSocketConstructor): SocketFactory {
  return (url, headers) => {
    const token = bearerOf(headers);
    const socket = token === null ? new WebSocketImpl(url) : new WebSocketImpl(url, bearerProtocols(token));
    const close = socket.close.bind(socket);
    socket.close = (code?: number, reason?: string) => close(browserCloseCode(code), reason);
    // a browser reports a refused upgrade as a plain 1006 close: it never says the status
    return { socket };
  };
}
