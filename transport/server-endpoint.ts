/**
 * Binds the hub to any Transport: each accepted link becomes a session (the
 * hub spawns it), and what the link hears becomes session events after the
 * decoder's verdict. The hub can be swapped (a server restart makes a new one
 * with a new epoch) without the transport knowing.
 */
import type { HubRef, SessionRef } from '../machines/hub.ts';
import { decodeClientFrame, type DecodeOptions } from '../machines/protocol.ts';
import type { SendOutcome, SessionPort } from '../machines/server-session.ts';
import type { ConnectRequest, Link, LinkHandler, ServerHandler } from './link.ts';

/** What the server tells its operator (the world writes it to the trace). */
export interface ServerObserver {
  /** Every message the server puts on a link (the world counts retransmissions on the wire). */
  sent?(link: string, data: string): void;
  rejected?(link: string, code: string, detail: string): void;
  coalesced?(link: string, thread: string, from: number, through: number): void;
}

export interface ServerEndpointOptions {
  hub: () => HubRef;
  observer?: ServerObserver;
  decode?: DecodeOptions;
}

export function createServerHandler(options: ServerEndpointOptions): ServerHandler {
  return {
    accept(link: Link, request: ConnectRequest): LinkHandler {
      const port: SessionPort = {
        send: (data): SendOutcome => {
          options.observer?.sent?.(link.id, data);
          const result = link.send(data);
          if (!result.ok) return 'closed';
          return 'backpressure' in result ? 'backpressure' : 'ok';
        },
        close: (code, reason) => link.close(code, reason),
        rejected: (code, detail) => options.observer?.rejected?.(link.id, code, detail),
        coalesced: (thread, from, through) => options.observer?.coalesced?.(link.id, thread, from, through),
      };
      // the hub names the session; the link's own id is only a label for traces
      let session: SessionRef | undefined;
      options.hub().send({ type: 'CONNECT', link: link.id, port, token: request.token, ...(request.hint !== undefined ? { hint: request.hint } : {}), accepted: (ref) => (session = ref) });
      return {
        onOpen: () => {},
        onFrame: (data) => {
          const decoded = decodeClientFrame(data, options.decode);
          session?.send(decoded.ok ? { type: 'FRAME', frame: decoded.frame } : { type: 'BAD_FRAME', code: decoded.error.code, detail: decoded.error.message });
        },
        onClose: ({ code, reason }) => session?.send({ type: 'LINK_CLOSED', code, reason }),
        onDrain: () => session?.send({ type: 'DRAIN' }),
      };
    },
  };
}
