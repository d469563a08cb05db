/**
 * The simulated network bounds what one link direction holds (queued plus in
 * flight): a sender over the bound gets one `runaway` record and a pipe that
 * refuses it from then on; a sender under it, however much it sends in all,
 * never does.
 */
import { expect } from 'chai';
import { CALM_PLAN } from '../../sim/fault-plan.ts';
import { MAX_HELD_BYTES, SimNetwork } from '../../sim/network.ts';
import { Random } from '../../sim/random.ts';
import type { RecordOf } from '../../sim/records.ts';
import { Scheduler } from '../../sim/scheduler.ts';
import { Trace } from '../../sim/trace.ts';
import type { Link, LinkHandler } from '../../transport/link.ts';

const BOUND = 10_000;
/** 1,000 bytes take 10 ms on the wire, then 5 ms of latency. */
const BANDWIDTH = 100_000;
const frame = (i: number) => `${String(i).padStart(6, '0')}${'x'.repeat(994)}`;

/** What one end heard. */
class Ear implements LinkHandler {
  frames: string[] = [];
  onOpen(): void {}
  onFrame(data: string): void {
    this.frames.push(data);
  }
  onClose(): void {}
}

function open(maxHeldBytes: number) {
  const scheduler = new Scheduler();
  const trace = new Trace();
  const net = new SimNetwork({ scheduler, random: Random.seeded(1).fork('network'), trace, plan: { ...CALM_PLAN, bandwidth: BANDWIDTH }, maxHeldBytes });
  const servers = new Map<string, { link: Link; ear: Ear }>();
  net.listen({
    accept(link, request) {
      const ear = new Ear();
      servers.set(request.connId, { link, ear });
      return ear;
    },
  });
  const pair = (connId: string) => {
    const ear = new Ear();
    const client = net.connect({ connId, endpoint: `acme/${connId}/0`, token: 'tok' }, ear);
    while (!servers.has(connId) && scheduler.step());
    return { client, cEar: ear, ...servers.get(connId)! };
  };
  const runaways = () => trace.records.filter((r): r is RecordOf<'runaway'> => r.k === 'runaway');
  return { scheduler, trace, net, pair, runaways };
}

describe('sim/network: what a link direction may hold', () => {
  it('the default bound is far above any honest run (26.2 MB measured) and a finite number', () => {
    expect(MAX_HELD_BYTES).to.be.at.least(8 * 26.2 * 1024 * 1024);
    expect(Number.isFinite(MAX_HELD_BYTES)).to.equal(true);
  });

  it('a sender over the bound: one runaway record, its frames refused from then on; what it held still arrives; nothing else changes', () => {
    const w = open(BOUND);
    const a = w.pair('a');
    const b = w.pair('b');
    const results = Array.from({ length: 15 }, (_, i) => a.client.send(frame(i)));
    // ten frames fit (10,000 bytes); the eleventh would make 11,000
    expect(results.slice(0, 10).every((r) => r.ok)).to.equal(true);
    expect(results.slice(10)).to.deep.equal(Array(5).fill({ ok: false, reason: 'closed' }));
    const runaways = w.runaways();
    expect(runaways).to.have.length(1);
    expect(runaways[0]).to.deep.include({ link: 'a', dir: 'c2s', bytes: 11_000, bound: BOUND, t: w.scheduler.now });
    expect(w.net.ranAway()).to.equal(true);
    expect(w.net.peakHeldBytes()).to.equal(10_000);
    // the refused frames never entered the network: no send record for them
    expect(w.trace.records.filter((r) => r.k === 'send' && r.link === 'a')).to.have.length(10);
    // once run away, the pipe stays refused even when it has drained
    while (w.scheduler.step());
    expect(a.ear.frames).to.deep.equal(Array.from({ length: 10 }, (_, i) => frame(i)));
    expect(a.client.send(frame(99))).to.deep.equal({ ok: false, reason: 'closed' });
    // the other direction of the same link, and another link, still carry frames
    expect(a.link.send('pong').ok).to.equal(true);
    expect(b.client.send(frame(0)).ok).to.equal(true);
    while (w.scheduler.step());
    expect(a.cEar.frames).to.deep.equal(['pong']);
    expect(b.ear.frames).to.deep.equal([frame(0)]);
    expect(w.runaways()).to.have.length(1);
  });

  it('a sender under the bound never runs away, however much it sends in all: delivered frames are no longer held', () => {
    const w = open(BOUND);
    const { client, ear } = w.pair('a');
    // one 1,000-byte frame every 10 ms is exactly the link's rate: about two frames are ever held
    for (let i = 0; i < 1000; i++) w.scheduler.at(w.scheduler.now + 10 * i, 'send', () => expect(client.send(frame(i)).ok).to.equal(true));
    while (w.scheduler.step());
    expect(ear.frames).to.have.length(1000);
    expect(w.runaways()).to.deep.equal([]);
    expect(w.net.ranAway()).to.equal(false);
    expect(w.net.peakHeldBytes()).to.be.within(1000, 3000);
  });
});

