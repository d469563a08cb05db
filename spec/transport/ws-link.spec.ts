/**
 * WsTransport against the Link contract of transport/link.ts (what the
 * simulated network promises too): open, frames in order, close heard once
 * with the code asked for, send after close refused, a failed connect heard
 * as a close, backpressure then drain.
 */
import { expect } from 'chai';
import type { CloseInfo, Link, LinkHandler } from '../../transport/link.ts';
import { WsTransport } from '../../transport/ws-transport.ts';
import { waitFor } from './harness.ts';

class Ear implements LinkHandler {
  opened = 0;
  frames: string[] = [];
  closes: CloseInfo[] = [];
  drains = 0;
  onOpen(): void {
    this.opened++;
  }
  onFrame(data: string): void {
    this.frames.push(data);
  }
  onClose(info: CloseInfo): void {
    this.closes.push(info);
  }
  onDrain(): void {
    this.drains++;
  }
}

describe('transport: WsTransport keeps the Link contract', function () {
  this.timeout(10_000);
  let transport: WsTransport | undefined;
  const servers: { link: Link; ear: Ear }[] = [];

  async function start(options: Parameters<typeof WsTransport.start>[0] = {}): Promise<WsTransport> {
    transport = await WsTransport.start(options);
    transport.listen({
      accept: (link) => {
        const ear = new Ear();
        servers.push({ link, ear });
        return ear;
      },
    });
    return transport;
  }

  afterEach(async () => {
    await transport?.close();
    transport = undefined;
    servers.length = 0;
  });

  it('frames both ways in order; the closer hears its own code once, the peer hears it too; sends after close are refused', async () => {
    const t = await start();
    const ear = new Ear();
    const link = t.connect({ connId: 'c#1', endpoint: 'c', token: 'x' }, ear);
    await waitFor(() => ear.opened === 1 && servers.length === 1, 'open');
    const server = servers[0]!;
    // the server names its links itself: the client's id is never taken
    expect(server.link.id).to.match(/^ws-\d+$/);
    for (let i = 0; i < 100; i++) expect(link.send(`c${i}`).ok).to.equal(true);
    for (let i = 0; i < 100; i++) server.link.send(`s${i}`);
    await waitFor(() => server.ear.frames.length === 100 && ear.frames.length === 100, 'frames');
    expect(server.ear.frames).to.deep.equal(Array.from({ length: 100 }, (_, i) => `c${i}`));
    expect(ear.frames).to.deep.equal(Array.from({ length: 100 }, (_, i) => `s${i}`));
    server.link.close(4001, 'ack timeout');
    expect(server.link.send('late')).to.deep.equal({ ok: false, reason: 'closed' });
    await waitFor(() => ear.closes.length === 1 && server.ear.closes.length === 1, 'closes');
    expect(server.ear.closes).to.deep.equal([{ code: 4001, reason: 'ack timeout' }]);
    expect(ear.closes).to.deep.equal([{ code: 4001, reason: 'ack timeout' }]);
    await new Promise((r) => setTimeout(r, 30));
    expect(ear.closes).to.have.length(1);
    expect(server.ear.closes).to.have.length(1);
  });

  it('a connect to nobody is heard as a close (1006), never as an open', async () => {
    const t = await start();
    const port = t.server!.port;
    await t.close();
    transport = undefined;
    const lonely = new WsTransport(`ws://127.0.0.1:${port}/`, null);
    const ear = new Ear();
    lonely.connect({ connId: 'c#1', endpoint: 'c', token: 'x' }, ear);
    await waitFor(() => ear.closes.length === 1, 'the failed connect');
    expect(ear.opened).to.equal(0);
    expect(ear.closes[0]!.code).to.equal(1006);
  });

  it('a send over the buffer cap reports backpressure; onDrain follows once the peer reads', async () => {
    const t = await start({ bufferCap: 256 * 1024 });
    const ear = new Ear();
    t.connect({ connId: 'c#1', endpoint: 'c', token: 'x' }, ear);
    await waitFor(() => ear.opened === 1 && servers.length === 1, 'open');
    const server = servers[0]!;
    const chunk = 'x'.repeat(64 * 1024);
    let pressured = false;
    for (let i = 0; i < 400 && !pressured; i++) {
      const result = server.link.send(chunk);
      expect(result.ok).to.equal(true);
      pressured = 'backpressure' in result;
    }
    expect(pressured, 'backpressure reported').to.equal(true);
    await waitFor(() => server.ear.drains === 1, 'drain');
    expect(server.link.bufferedBytes()).to.be.at.most(256 * 1024);
    expect(t.server!.stats().backpressure).to.equal(1);
  });
});
