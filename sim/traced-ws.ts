/**
 * The real transport, written to the trace like the simulated network: every
 * frame sent and delivered on both sides, links opening and closing (at the
 * first side that closes, as the simulation records it), and what the fault
 * proxy did. The oracle and the timeline read a ws run's trace as they read a
 * simulated one.
 */
import type { FaultCounts } from './network.ts';
import type { Trace } from './trace.ts';
import type { WorldTransport } from './world.ts';
import type { ProxyObserver } from '../transport/fault-proxy.ts';
import type { CloseInfo, ConnectRequest, Link, LinkHandler, SendResult, ServerHandler, Transport } from '../transport/link.ts';

/** Frame text kept in trace records, as the simulated network keeps it. */
const TRACE_FRAME_CHARS = 200;
const clip = (data: string): string => (data.length > TRACE_FRAME_CHARS ? data.slice(0, TRACE_FRAME_CHARS) : data);

export const NO_FAULTS: FaultCounts = { drop: 0, dup: 0, reorder: 0, corrupt: 0, disconnect: 0, partitionDrop: 0, halfOpenDrop: 0, blackhole: 0, restart: 0, refused: 0 };

type Dir = 'c2s' | 's2c';

export class TracedWs implements WorldTransport {
  readonly faults: FaultCounts = { ...NO_FAULTS };
  /** Links open and not yet closed by either side. */
  private readonly open = new Set<string>();
  private readonly closed = new Set<string>();
  /**
   * The client's name of each tab's latest link, by endpoint. The server names
   * its links itself (`ws-N`, never the client's choice), so the trace pairs a
   * server-side link with the client connection that opened it: a tab has one
   * connection attempt at a time, and the server accepts it after the connect.
   */
  private readonly latest = new Map<string, string>();

  constructor(
    private readonly inner: Transport,
    private readonly trace: () => Trace,
    private readonly now: () => number,
  ) {}

  listen(server: ServerHandler): void {
    this.inner.listen({
      accept: (link, request) => {
        const name = this.latest.get(request.endpoint) ?? link.id;
        const handler = server.accept(this.sending(link, 's2c', name), request);
        return this.hearing(name, 'c2s', handler);
      },
    });
  }

  connect(request: ConnectRequest, client: LinkHandler): Link {
    this.latest.set(request.endpoint, request.connId);
    const handler = this.hearing(request.connId, 's2c', client);
    return this.sending(this.inner.connect(request, handler), 'c2s');
  }

  /** What the fault proxy did, as fault records and counts. */
  readonly proxyObserver: ProxyObserver = {
    fault: (fault, conn, detail) => {
      if (fault === 'held') {
        if (detail.endsWith('partition')) this.faults.partitionDrop++;
        else this.faults.halfOpenDrop++;
      } else this.faults[fault]++;
      this.trace().append({ t: this.now(), k: 'fault', fault: fault === 'held' ? 'stall' : fault, target: conn, detail });
    },
  };

  /** A fault the world injected itself (a server restart). */
  injected(fault: keyof FaultCounts, detail: string): void {
    this.faults[fault]++;
    this.trace().append({ t: this.now(), k: 'fault', fault, detail });
  }

  openLinks(): number {
    return this.open.size;
  }

  stats(): FaultCounts {
    return { ...this.faults };
  }

  private sending(link: Link, dir: Dir, name = link.id): Link {
    return {
      id: link.id,
      send: (data: string): SendResult => {
        this.trace().append({ t: this.now(), k: 'send', link: name, dir, frame: clip(data), bytes: data.length });
        return link.send(data);
      },
      close: (code, reason) => link.close(code, reason),
      bufferedBytes: () => link.bufferedBytes(),
    };
  }

  private hearing(id: string, dir: Dir, handler: LinkHandler): LinkHandler {
    return {
      onOpen: () => {
        // the client hears its open after the server accepted: one record per link
        if (dir === 's2c' && !this.open.has(id) && !this.closed.has(id)) {
          this.open.add(id);
          this.trace().append({ t: this.now(), k: 'link', link: id, event: 'open' });
        }
        handler.onOpen();
      },
      onFrame: (data) => {
        this.trace().append({ t: this.now(), k: 'deliver', link: id, dir, frame: clip(data), bytes: data.length });
        handler.onFrame(data);
      },
      onClose: (info: CloseInfo) => {
        if (this.open.delete(id)) {
          this.closed.add(id);
          this.trace().append({ t: this.now(), k: 'link', link: id, event: 'close', code: info.code, reason: info.reason });
        }
        handler.onClose(info);
      },
      onDrain: () => handler.onDrain?.(),
    };
  }
}
