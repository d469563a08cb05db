/**
 * A fault proxy on 127.0.0.1 between every client and the ws server: plain
 * TCP, bytes in and bytes out, in Node (no external binary). It reads the
 * HTTP upgrade's request line to learn which endpoint a connection belongs to
 * (`?endpoint=` of the client's URL), then asks the world's `ProxyFaults`
 * what the network does to it. It decides nothing about the protocol: it only
 * delays, holds, refuses and cuts bytes, as the simulated network does frames.
 *
 * - latency + jitter: each chunk arrives one latency after it left the wire,
 *   never before an earlier chunk (TCP is FIFO, so jitter never reorders);
 * - bandwidth per link direction: a chunk occupies the wire bytes/bandwidth;
 *   past `pauseAboveBytes` queued the proxy stops reading the sender, so a
 *   slow link pushes back on the sender like a real one;
 * - silence (half-open one direction, partition both): bytes due in a silent
 *   direction are held while the socket stays up — a stall. TCP retransmits
 *   what a blackhole ate, so if the window heals first they arrive late, in
 *   order, and the stream stays valid;
 * - refused connects (partition, server down): the client socket is reset;
 * - blackholed connects: the request is read and never answered;
 * - cuts: both sockets reset (RST), the peers hear 1006.
 */
import net from 'node:net';

export type ProxyDir = 'c2s' | 's2c';

/** The network's decisions, asked per endpoint and time (the world's fault plan answers). */
export interface ProxyFaults {
  /** One-way delay of a chunk leaving now, ms (base + jitter). */
  delayMs(endpoint: string): number;
  /** bytes/s of one direction (Infinity: unlimited). */
  bandwidth(endpoint: string): number;
  /** Why this direction is silent now ('partition', 'half-open'), or null. */
  silent(endpoint: string, dir: ProxyDir): string | null;
  /** Why a new connection is refused now ('partition', 'server down'), or null. */
  refused(endpoint: string): string | null;
  /** A new connection neither opens nor fails. */
  blackholed(endpoint: string): boolean;
}

/** What the proxy did, for the trace. */
export interface ProxyObserver {
  fault(fault: 'held' | 'refused' | 'blackhole' | 'disconnect', conn: string, detail: string): void;
}

export interface FaultProxyOptions {
  upstreamPort: number;
  faults: ProxyFaults;
  observer?: ProxyObserver;
  /** Queued bytes of one direction above which the sender is no longer read. */
  pauseAboveBytes?: number;
}

const HEAD_LIMIT = 16 * 1024;
const HOLD_POLL_MS = 10;

interface Chunk {
  at: number;
  data: Buffer | null; // null: the sender ended; end the receiver after what came before
}

/** One direction of one connection: a FIFO of chunks with their due times. */
class Pipe {
  private readonly queue: Chunk[] = [];
  private wireFreeAt = 0;
  private lastArrival = 0;
  private queued = 0;
  private timer: NodeJS.Timeout | null = null;
  private holding = false;

  constructor(
    readonly dir: ProxyDir,
    private readonly conn: Connection,
    private readonly from: net.Socket,
    private readonly to: () => net.Socket | null,
  ) {}

  push(data: Buffer | null): void {
    const now = performance.now();
    const { faults } = this.conn.proxy.options;
    const bytes = data?.length ?? 0;
    const bandwidth = faults.bandwidth(this.conn.endpoint);
    const start = Math.max(now, this.wireFreeAt);
    const offWire = bandwidth === Infinity ? start : start + (bytes * 1000) / bandwidth;
    this.wireFreeAt = offWire;
    const at = Math.max(offWire + faults.delayMs(this.conn.endpoint), this.lastArrival);
    this.lastArrival = at;
    this.queue.push({ at, data });
    this.queued += bytes;
    if (this.queued > this.conn.proxy.pauseAbove && !this.from.isPaused()) this.from.pause();
    this.arm();
  }

  private arm(): void {
    if (this.timer || this.queue.length === 0) return;
    const wait = this.holding ? HOLD_POLL_MS : Math.max(0, this.queue[0]!.at - performance.now());
    this.timer = setTimeout(() => {
      this.timer = null;
      this.flush();
    }, wait);
  }

  private flush(): void {
    const to = this.to();
    while (this.queue.length > 0 && this.queue[0]!.at <= performance.now() + 1) {
      const why = this.conn.proxy.options.faults.silent(this.conn.endpoint, this.dir);
      if (why !== null) {
        if (!this.holding) this.conn.proxy.observe('held', this.conn.id, `${this.dir} ${why}`);
        this.holding = true;
        break;
      }
      this.holding = false;
      const chunk = this.queue.shift()!;
      if (chunk.data === null) {
        to?.end();
        continue;
      }
      this.queued -= chunk.data.length;
      if (to && !to.destroyed) to.write(chunk.data);
    }
    if (this.queued <= this.conn.proxy.pauseAbove && this.from.isPaused() && !this.from.destroyed) this.from.resume();
    this.arm();
  }

  stop(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.queue.length = 0;
  }
}

/** One client connection and, once it is let through, its upstream socket. */
class Connection {
  id = '?';
  endpoint = '?';
  upstream: net.Socket | null = null;
  private head = Buffer.alloc(0);
  private c2s: Pipe | null = null;
  private s2c: Pipe | null = null;
  /** The side sent its FIN: the other side is ended after the bytes before it, not cut. */
  private clientEnded = false;
  private upstreamEnded = false;
  done = false;

  constructor(
    readonly proxy: FaultProxy,
    readonly client: net.Socket,
  ) {
    client.on('error', () => {});
    client.on('data', (data) => this.onClientData(data));
    client.on('end', () => {
      this.clientEnded = true;
      this.c2s?.push(null);
    });
    client.on('close', () => {
      if (!this.clientEnded) this.upstream?.destroy();
      this.gone();
    });
  }

  private onClientData(data: Buffer): void {
    if (this.c2s) return this.c2s.push(data);
    if (this.done) return;
    this.head = Buffer.concat([this.head, data]);
    const end = this.head.indexOf('\r\n\r\n');
    if (end < 0) {
      if (this.head.length > HEAD_LIMIT) this.reset();
      return;
    }
    this.route();
  }

  /** The request line names the connection: decide its fate, then let bytes through. */
  private route(): void {
    const line = this.head.subarray(0, this.head.indexOf('\r\n')).toString('latin1');
    const url = new URL(line.split(' ')[1] ?? '/', 'http://proxy');
    this.id = url.searchParams.get('conn') ?? `proxy-${this.proxy.connections.size}`;
    this.endpoint = url.searchParams.get('endpoint') ?? this.id;
    const { faults } = this.proxy.options;
    if (faults.blackholed(this.endpoint)) {
      this.proxy.observe('blackhole', this.id, this.endpoint);
      this.done = true; // read and forgotten: the client's connect timeout ends it
      return;
    }
    const refused = faults.refused(this.endpoint);
    if (refused !== null) {
      this.proxy.observe('refused', this.id, refused);
      return this.reset();
    }
    const upstream = net.connect({ host: '127.0.0.1', port: this.proxy.options.upstreamPort, allowHalfOpen: true });
    upstream.setNoDelay(true);
    this.upstream = upstream;
    this.c2s = new Pipe('c2s', this, this.client, () => this.upstream);
    this.s2c = new Pipe('s2c', this, upstream, () => this.client);
    upstream.on('error', () => {});
    upstream.on('data', (data) => this.s2c!.push(data));
    upstream.on('end', () => {
      this.upstreamEnded = true;
      this.s2c!.push(null);
    });
    upstream.on('close', () => {
      if (!this.upstreamEnded) this.client.destroy();
      this.gone();
    });
    this.c2s.push(this.head);
    this.head = Buffer.alloc(0);
  }

  /** Both sockets closed: nothing is left of the connection. */
  private gone(): void {
    if (this.client.destroyed && (this.upstream === null || this.upstream.destroyed)) this.finish();
  }

  private finish(): void {
    this.done = true;
    this.c2s?.stop();
    this.s2c?.stop();
    this.proxy.connections.delete(this);
  }

  /** RST both ways: the peers hear an abnormal close (1006). */
  reset(): void {
    this.client.resetAndDestroy();
    this.upstream?.resetAndDestroy();
    this.finish();
  }

  get established(): boolean {
    return this.upstream !== null && !this.done && !this.client.destroyed && !this.upstream.destroyed;
  }
}

export class FaultProxy {
  readonly connections = new Set<Connection>();
  readonly pauseAbove: number;

  private constructor(
    private readonly server: net.Server,
    readonly port: number,
    readonly options: FaultProxyOptions,
  ) {
    this.pauseAbove = options.pauseAboveBytes ?? 256 * 1024;
  }

  static async start(options: FaultProxyOptions): Promise<FaultProxy> {
    const server = net.createServer({ noDelay: true, allowHalfOpen: true });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve());
    });
    const proxy = new FaultProxy(server, (server.address() as net.AddressInfo).port, options);
    server.on('connection', (socket) => proxy.connections.add(new Connection(proxy, socket)));
    return proxy;
  }

  /** Where clients connect instead of the server: the same path and query reach it. */
  urlFor(serverUrl: string): string {
    const url = new URL(serverUrl);
    url.port = String(this.port);
    return url.toString();
  }

  /** @internal */
  observe(fault: 'held' | 'refused' | 'blackhole' | 'disconnect', conn: string, detail: string): void {
    this.options.observer?.fault(fault, conn, detail);
  }

  /** Connections through to the server, by conn id. */
  established(): { id: string; endpoint: string }[] {
    return [...this.connections].filter((c) => c.established).map((c) => ({ id: c.id, endpoint: c.endpoint }));
  }

  /** Cut one connection with a reset on both sides. */
  cut(id: string): boolean {
    const conn = [...this.connections].find((c) => c.id === id && c.established);
    if (!conn) return false;
    this.observe('disconnect', conn.id, conn.endpoint);
    conn.reset();
    return true;
  }

  async close(): Promise<void> {
    for (const conn of [...this.connections]) conn.reset();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
