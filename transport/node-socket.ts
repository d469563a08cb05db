/**
 * Opening a client socket in Node: `ws`, which (unlike a browser) can send an
 * Authorization header and tells the HTTP status of a refused upgrade. Kept
 * apart from ws-client.ts so that the link code bundles for browsers without
 * pulling in `ws` or any Node built-in.
 */
import WebSocket from 'ws';
import type { EventSocket, SocketFactory } from './ws-client.ts';

/** The Node factory: `ws`, no compression (frames are small JSON; latency matters more). */
export const nodeSocketFactory: SocketFactory = (url, headers, refused) => {
  const socket = new WebSocket(url, { headers, perMessageDeflate: false });
  socket.on('unexpected-response', (_req, res) => {
    refused(res.statusCode ?? 0);
    res.resume();
    socket.terminate();
  });
  // the error that precedes a close (refused, reset) is reported by the close itself
  socket.on('error', () => {});
  return { socket: socket as unknown as EventSocket, terminate: () => socket.terminate() };
};
