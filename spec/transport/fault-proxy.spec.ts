/**
 * The fault proxy on its own: raw TCP through it to a recording server, each
 * fault measured on the bytes (when they arrive, whether they arrive, how a
 * socket ends). Everything binds 127.0.0.1:0 and is closed after each test.
 */
import { expect } from 'chai';
import net from 'node:net';
import { FaultProxy, type ProxyDir, type ProxyFaults } from '../../transport/fault-proxy.ts';

/** Faults a test sets by hand. */
class Knobs implements ProxyFaults {
  latency = 0;
  bw = Infinity;
  silence: Partial<Record<ProxyDir, string>> = {};
  refuse: string | null = null;
  blackhole = false;
  delayMs = () => this.latency;
  bandwidth = () => this.bw;
  silent = (_e: string, dir: ProxyDir) => this.silence[dir] ?? null;
  refused = () => this.refuse;
  blackholed = () => this.blackhole;
}

/** An upstream that records every byte with its arrival time and can answer. */
class Upstream {
  readonly sockets: net.Socket[] = [];
  readonly chunks: { at: number; bytes: number }[] = [];
  text = '';
  private constructor(readonly server: net.Server) {}

  static async start(): Promise<Upstream> {
    const server = net.createServer();
    const up = new Upstream(server);
    server.on('connection', (s) => {
      up.sockets.push(s);
      s.on('error', () => {});
      s.on('data', (d) => {
        up.chunks.push({ at: performance.now(), bytes: d.length });
        up.text += d.toString('latin1');
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    return up;
  }

  get port(): number {
    return (this.server.address() as net.AddressInfo).port;
  }

  get received(): number {
    return this.chunks.reduce((n, c) => n + c.bytes, 0);
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((r) => this.server.close(() => r()));
  }
}

const HEAD = 'GET /ws?conn=t0%2Fu0%2F0%231&endpoint=t0%2Fu0%2F0 HTTP/1.1\r\nHost: x\r\n\r\n';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function waitFor(what: string, cond: () => boolean, ms = 3000): Promise<void> {
  const until = performance.now() + ms;
  while (!cond()) {
    if (performance.now() > until) throw new Error(`timed out waiting for ${what}`);
    await sleep(5);
  }
}

describe('transport: the fault proxy applies the plan to bytes', function () {
  this.timeout(15_000);
  let up: Upstream;
  let proxy: FaultProxy;
  let knobs: Knobs;
  const clients: net.Socket[] = [];

  const dial = async (): Promise<net.Socket> => {
    const socket = net.connect({ host: '127.0.0.1', port: proxy.port });
    socket.on('error', () => {});
    clients.push(socket);
    await new Promise<void>((r) => socket.once('connect', () => r()));
    return socket;
  };

  beforeEach(async () => {
    knobs = new Knobs();
    up = await Upstream.start();
    proxy = await FaultProxy.start({ upstreamPort: up.port, faults: knobs });
  });

  afterEach(async () => {
    for (const c of clients.splice(0)) c.destroy();
    await proxy.close();
    await up.close();
  });

  it('latency: bytes arrive one latency later, and the request reaches the server intact', async () => {
    knobs.latency = 80;
    const sent = performance.now();
    (await dial()).write(HEAD);
    await waitFor('the request', () => up.text === HEAD);
    expect(up.chunks[0]!.at - sent).to.be.at.least(75);
    expect(proxy.established().map((c) => c.endpoint)).to.deep.equal(['t0/u0/0']);
  });

  it('bandwidth: 30,000 bytes on a 100,000 B/s link take at least 300 ms, in order', async () => {
    knobs.bw = 100_000;
    const socket = await dial();
    socket.write(HEAD);
    await waitFor('the request', () => up.received === HEAD.length);
    const body = Buffer.alloc(30_000, 'a');
    body.write('END', 29_997);
    const sent = performance.now();
    socket.write(body);
    await waitFor('the body', () => up.received === HEAD.length + body.length);
    expect(up.chunks.at(-1)!.at - sent).to.be.at.least(290);
    expect(up.text.endsWith('END')).to.equal(true);
  });

  it('half-open: a silent direction holds its bytes while the socket stays up; they follow in order once it heals', async () => {
    const socket = await dial();
    socket.write(HEAD);
    await waitFor('the request', () => up.received === HEAD.length);
    knobs.silence.c2s = 'half-open';
    socket.write('one;');
    socket.write('two;');
    // the other direction still flows
    let back = '';
    socket.on('data', (d) => (back += d.toString()));
    up.sockets[0]!.write('pong');
    await waitFor('s2c bytes', () => back === 'pong');
    await sleep(150);
    expect(up.received, 'nothing crossed the silent direction').to.equal(HEAD.length);
    expect(socket.destroyed || up.sockets[0]!.destroyed).to.equal(false);
    delete knobs.silence.c2s;
    await waitFor('the held bytes', () => up.text === `${HEAD}one;two;`);
  });

  it('refused: the client is reset and the server never sees a connection', async () => {
    knobs.refuse = 'partition';
    const socket = await dial();
    const closed = new Promise<boolean>((r) => socket.once('close', (hadError) => r(hadError)));
    socket.write(HEAD);
    expect(await closed, 'reset (an error), not a clean end').to.equal(true);
    expect(up.sockets).to.have.length(0);
  });

  it('blackhole: the request is never answered nor forwarded, and the socket stays open', async () => {
    knobs.blackhole = true;
    const socket = await dial();
    socket.write(HEAD);
    await sleep(200);
    expect(up.sockets).to.have.length(0);
    expect(socket.destroyed).to.equal(false);
  });

  it('cut: both sockets are reset', async () => {
    const socket = await dial();
    socket.write(HEAD);
    await waitFor('the request', () => up.received === HEAD.length);
    const clientClosed = new Promise<boolean>((r) => socket.once('close', (hadError) => r(hadError)));
    const serverClosed = new Promise<boolean>((r) => up.sockets[0]!.once('close', (hadError) => r(hadError)));
    expect(proxy.cut('t0/u0/0#1')).to.equal(true);
    expect(await clientClosed).to.equal(true);
    expect(await serverClosed).to.equal(true);
    expect(proxy.established()).to.deep.equal([]);
  });
});
