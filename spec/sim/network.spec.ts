import { expect } from 'chai';
import fc from 'fast-check';
import { CALM_PLAN, type FaultPlan } from '../../sim/fault-plan.ts';
import { SimNetwork } from '../../sim/network.ts';
import { Random } from '../../sim/random.ts';
import { Scheduler } from '../../sim/scheduler.ts';
import { Trace } from '../../sim/trace.ts';
import type { CloseInfo, Link, LinkHandler } from '../../transport/link.ts';

const params = (runs: number): fc.Parameters<unknown> => ({
  numRuns: process.env.SIM_RUNS ? Number(process.env.SIM_RUNS) : runs,
  ...(process.env.SIM_SEED ? { seed: Number(process.env.SIM_SEED) } : {}),
});

/** What one endpoint heard, with simulated times. */
class Ear implements LinkHandler {
  opened: number[] = [];
  frames: { t: number; data: string }[] = [];
  closes: { t: number; info: CloseInfo }[] = [];
  drains: number[] = [];
  constructor(private readonly s: Scheduler) {}
  onOpen(): void {
    this.opened.push(this.s.now);
  }
  onFrame(data: string): void {
    this.frames.push({ t: this.s.now, data });
  }
  onClose(info: CloseInfo): void {
    this.closes.push({ t: this.s.now, info });
  }
  onDrain(): void {
    this.drains.push(this.s.now);
  }
}

interface World {
  scheduler: Scheduler;
  trace: Trace;
  net: SimNetwork;
  /** Server side of each accepted link, by conn id. */
  server: Map<string, { link: Link; ear: Ear }>;
  restarts: number[];
  connect(connId: string, endpoint?: string): { link: Link; ear: Ear };
}

function world(plan: Partial<FaultPlan>, seed = 1): World {
  const scheduler = new Scheduler();
  const trace = new Trace();
  const restarts: number[] = [];
  const net = new SimNetwork({
    scheduler,
    random: Random.seeded(seed).fork('network'),
    trace,
    plan: { ...CALM_PLAN, ...plan },
    onRestart: () => restarts.push(scheduler.now),
  });
  const server = new Map<string, { link: Link; ear: Ear }>();
  net.listen({
    accept(link, request) {
      const ear = new Ear(scheduler);
      server.set(request.connId, { link, ear });
      return ear;
    },
  });
  const connect = (connId: string, endpoint = 'acme/ann/t1'): { link: Link; ear: Ear } => {
    const ear = new Ear(scheduler);
    return { link: net.connect({ connId, endpoint, token: 'tok' }, ear), ear };
  };
  return { scheduler, trace, net, server, restarts, connect };
}

/** Open one link and return both ends. */
function pair(w: World, connId = 'c1', endpoint?: string): { client: Link; cEar: Ear; srv: Link; sEar: Ear } {
  const { link, ear } = w.connect(connId, endpoint);
  while (!w.server.has(connId) && w.scheduler.step());
  const s = w.server.get(connId);
  expect(s, 'link accepted').to.not.equal(undefined);
  return { client: link, cEar: ear, srv: s!.link, sEar: s!.ear };
}

/** Send n numbered frames c2s, one per ms, and run everything out. */
function pump(w: World, client: Link, n: number): void {
  for (let i = 0; i < n; i++) w.scheduler.at(w.scheduler.now + i, 'send', () => client.send(`m${i}`));
  while (w.scheduler.step());
}

const numbers = (ear: Ear): number[] => ear.frames.map((f) => Number(f.data.slice(1)));
/** |observed - expected| within z standard deviations of a binomial(n, p). */
function binomial(observed: number, n: number, p: number, z = 5): void {
  const sigma = Math.sqrt(n * p * (1 - p));
  expect(Math.abs(observed - n * p), `observed ${observed} of ${n} at p=${p}`).to.be.at.most(z * sigma + 1);
}

const HEALED_LATER = 1e9;

describe('sim/network', () => {
  describe('calm', () => {
    it('connect takes one latency; frames arrive after one latency, in order; both ends agree on the link id', () => {
      const w = world({ latency: { baseMs: 7, jitterMs: 0 } });
      const { link, ear } = w.connect('c1');
      expect(link.id).to.equal('c1');
      w.scheduler.runUntil(100);
      expect(ear.opened).to.deep.equal([7]);
      const s = w.server.get('c1')!;
      expect(s.link.id).to.equal('c1');
      expect(link.send('hello')).to.deep.equal({ ok: true, bufferedBytes: 0 });
      s.link.send('back');
      w.scheduler.runUntil(200);
      expect(s.ear.frames).to.deep.equal([{ t: 107, data: 'hello' }]);
      expect(ear.frames).to.deep.equal([{ t: 107, data: 'back' }]);
      expect(w.trace.count('send')).to.equal(2);
      expect(w.trace.count('deliver')).to.equal(2);
    });

    it('jitter never reorders a pipe without the reorder fault', () => {
      fc.assert(
        fc.property(fc.integer(), fc.integer({ min: 1, max: 200 }), (seed, jitter) => {
          const w = world({ latency: { baseMs: 5, jitterMs: jitter } }, seed);
          const { client, sEar } = pair(w);
          pump(w, client, 200);
          expect(numbers(sEar)).to.deep.equal(Array.from({ length: 200 }, (_, i) => i));
        }),
        params(20),
      );
    });

    it('close: the closer hears onClose now, the peer after one latency with the same code; once per side', () => {
      const w = world({ latency: { baseMs: 10, jitterMs: 0 } });
      const { client, cEar, srv, sEar } = pair(w);
      const t0 = w.scheduler.now;
      srv.send('in flight to the closer');
      client.close(4000, 'bye');
      client.close(4001, 'again'); // no second onClose
      expect(client.send('late')).to.deep.equal({ ok: false, reason: 'closed' });
      w.scheduler.runUntil(t0 + 1000);
      expect(cEar.closes).to.deep.equal([{ t: t0, info: { code: 4000, reason: 'bye' } }]);
      expect(sEar.closes).to.deep.equal([{ t: t0 + 10, info: { code: 4000, reason: 'bye' } }]);
      expect(cEar.frames).to.deep.equal([]); // discarded: the client side was closed
      expect(w.trace.records.filter((r) => r.k === 'drop' && r.reason === 'closed')).to.have.length(1);
      expect(srv.send('x')).to.deep.equal({ ok: false, reason: 'closed' });
      srv.close(1000, 'ignored');
      w.scheduler.runUntil(t0 + 2000);
      expect(sEar.closes).to.have.length(1);
      expect(w.net.openLinks()).to.equal(0);
      expect(w.trace.count('link')).to.equal(2); // open, close
    });

    it('closeAll closes every link on both sides', () => {
      const w = world({});
      const a = pair(w, 'a');
      const b = pair(w, 'b');
      w.net.closeAll(1001, 'going away');
      w.scheduler.runUntil(w.scheduler.now + 100);
      for (const e of [a.cEar, a.sEar, b.cEar, b.sEar]) expect(e.closes.map((c) => c.info)).to.deep.equal([{ code: 1001, reason: 'going away' }]);
      expect(w.net.openLinks()).to.equal(0);
    });
  });

  describe('faults', () => {
    it('drop: drops about p of the frames, each traced as a drop', () => {
      for (const p of [0.1, 0.35]) {
        const w = world({ drop: p, healAt: HEALED_LATER }, 42);
        const { client, sEar } = pair(w);
        const n = 3000;
        pump(w, client, n);
        const dropped = n - sEar.frames.length;
        binomial(dropped, n, p);
        expect(w.net.stats().drop).to.equal(dropped);
        expect(w.trace.records.filter((r) => r.k === 'drop' && r.reason === 'drop')).to.have.length(dropped);
      }
    });

    it('dup: about p of the frames arrive twice, the copy after the original', () => {
      const p = 0.2;
      const w = world({ dup: p, healAt: HEALED_LATER }, 3);
      const { client, sEar } = pair(w);
      const n = 3000;
      pump(w, client, n);
      const dups = sEar.frames.length - n;
      binomial(dups, n, p);
      expect(w.net.stats().dup).to.equal(dups);
      expect(w.trace.count('dup')).to.equal(dups);
      const seen = new Map<number, number>();
      for (const x of numbers(sEar)) seen.set(x, (seen.get(x) ?? 0) + 1);
      expect(seen.size).to.equal(n);
      expect([...seen.values()].every((c) => c === 1 || c === 2)).to.equal(true);
    });

    it('reorder: later frames overtake held-back ones; nothing is lost', () => {
      const w = world({ reorder: 0.2, healAt: HEALED_LATER }, 5);
      const { client, sEar } = pair(w);
      pump(w, client, 500);
      const got = numbers(sEar);
      expect([...got].sort((a, b) => a - b)).to.deep.equal(Array.from({ length: 500 }, (_, i) => i));
      const inversions = got.filter((x, i) => i > 0 && x < got[i - 1]!).length;
      expect(inversions).to.be.greaterThan(0);
      binomial(w.net.stats().reorder, 500, 0.2);
    });

    it('corrupt: the corrupted frames, and only they, differ from what was sent', () => {
      for (const p of [1, 0.3]) {
        const w = world({ corrupt: p, healAt: HEALED_LATER }, 9);
        const { client, sEar } = pair(w);
        const n = 1000;
        const sent = Array.from({ length: n }, (_, i) => JSON.stringify({ v: 1, type: 'event', i }));
        sent.forEach((f, i) => w.scheduler.at(w.scheduler.now + i, 'send', () => client.send(f)));
        while (w.scheduler.step());
        expect(sEar.frames).to.have.length(n);
        const changed = sEar.frames.filter((f, i) => f.data !== sent[i]).length;
        if (p === 1) expect(changed).to.equal(n);
        else binomial(changed, n, p);
        expect(w.net.stats().corrupt).to.equal(changed);
        expect(w.trace.records.filter((r) => r.k === 'fault' && r.fault === 'corrupt')).to.have.length(changed);
      }
    });

    it('faults stop at healAt', () => {
      const w = world({ drop: 1, dup: 1, reorder: 1, corrupt: 1, healAt: 2000 });
      const { client, sEar } = pair(w);
      w.scheduler.runUntil(2000);
      pump(w, client, 100);
      expect(numbers(sEar)).to.deep.equal(Array.from({ length: 100 }, (_, i) => i));
    });

    it('partition: nothing crosses for the matching endpoints during the window, everything after; others unaffected; connects refused', () => {
      const plan = { partitions: [{ target: 'tenant:a', from: 100, to: 300 }], healAt: HEALED_LATER };
      const w = world(plan);
      const a = pair(w, 'a', 'a/u/t');
      const b = pair(w, 'b', 'b/u/t');
      expect(w.scheduler.now).to.equal(10); // both links opened before the window
      // Each side sends one frame per ms from 0 to 499 (sent at s, arrives at s + 5).
      for (let s = w.scheduler.now; s < 500; s++) {
        w.scheduler.at(s, 'send', () => {
          for (const x of [a.client, a.srv, b.client, b.srv]) x.send(`m${s}`);
        });
      }
      let refused: { link: Link; ear: Ear } | undefined;
      let later: { link: Link; ear: Ear } | undefined;
      w.scheduler.at(150, 'connect', () => (refused = w.connect('a2', 'a/u/t2')));
      w.scheduler.at(400, 'connect', () => (later = w.connect('a3', 'a/u/t3')));
      w.scheduler.runUntil(1000);
      // Lost if sent or due to arrive (sent + 5) inside [100, 300): sent in [95, 300).
      const range = (from: number, to: number): number[] => Array.from({ length: to - from }, (_, i) => from + i);
      for (const ear of [a.cEar, a.sEar]) {
        expect(ear.frames.filter((f) => f.t >= 100 && f.t < 300)).to.deep.equal([]);
        expect(numbers(ear)).to.deep.equal([...range(10, 95), ...range(300, 500)]);
      }
      for (const ear of [b.cEar, b.sEar]) expect(numbers(ear)).to.deep.equal(range(10, 500));
      expect(w.net.stats().partitionDrop).to.equal(2 * (300 - 95));
      expect(refused!.ear.opened).to.deep.equal([]);
      expect(refused!.ear.closes.map((c) => [c.t, c.info])).to.deep.equal([[155, { code: 1006, reason: 'connect refused' }]]);
      expect(later!.ear.opened).to.deep.equal([405]);
      expect(a.cEar.closes).to.deep.equal([]); // a partition alone does not close links
      expect(w.net.stats().refused).to.equal(1);
    });

    it('half-open: one direction is silently lost, the other delivered, the link stays open', () => {
      for (const dir of ['c2s', 's2c'] as const) {
        const w = world({ halfOpen: [{ target: 'user:acme/ann', dir, from: 0, to: 10_000 }], healAt: HEALED_LATER });
        const { client, cEar, srv, sEar } = pair(w);
        for (let i = 0; i < 50; i++) {
          client.send(`c${i}`);
          srv.send(`s${i}`);
        }
        w.scheduler.runUntil(5000);
        const [lost, kept] = dir === 'c2s' ? [sEar, cEar] : [cEar, sEar];
        expect(lost.frames).to.have.length(0);
        expect(kept.frames).to.have.length(50);
        expect(cEar.closes.length + sEar.closes.length).to.equal(0);
        expect(w.net.stats().halfOpenDrop).to.equal(50);
        expect(w.net.openLinks()).to.equal(1);
      }
    });

    it('bandwidth: arrival = start + bytes/bandwidth + latency, frames queue behind each other', () => {
      fc.assert(
        fc.property(fc.array(fc.integer({ min: 0, max: 5000 }), { minLength: 1, maxLength: 10 }), fc.integer({ min: 100, max: 100_000 }), (sizes, bw) => {
          const w = world({ bandwidth: bw, latency: { baseMs: 5, jitterMs: 0 } });
          const { client, sEar } = pair(w);
          const t0 = w.scheduler.now;
          sizes.forEach((n) => client.send('x'.repeat(n)));
          while (w.scheduler.step());
          let wire = t0;
          const expected = sizes.map((n) => ({ t: (wire += (n * 1000) / bw) + 5, bytes: n }));
          const got = sEar.frames.map((f) => ({ t: f.t, bytes: f.data.length }));
          expect(got.length).to.equal(expected.length);
          got.forEach((g, i) => {
            expect(g.bytes).to.equal(expected[i]!.bytes);
            expect(g.t).to.be.closeTo(expected[i]!.t, 1e-6);
          });
        }),
        params(50),
      );
      // Bigger frames take longer: 1 KB vs 100 KB at 1 MB/s over 5 ms latency.
      const w = world({ bandwidth: 1_000_000 });
      const { client, sEar } = pair(w);
      const t0 = w.scheduler.now;
      client.send('x'.repeat(1000));
      w.scheduler.runUntil(t0 + 1000);
      client.send('y'.repeat(100_000));
      w.scheduler.runUntil(t0 + 2000);
      expect(sEar.frames.map((f) => f.t - (f.data[0] === 'x' ? t0 : t0 + 1000))).to.deep.equal([6, 105]);
    });

    it('backpressure: over the cap the send says so, and onDrain comes once the buffer falls back', () => {
      const w = world({ bandwidth: 1000, sendBufferBytes: 100 });
      const { client, cEar, sEar } = pair(w);
      const t0 = w.scheduler.now;
      expect(client.send('a'.repeat(60))).to.deep.equal({ ok: true, bufferedBytes: 60 });
      expect(client.send('b'.repeat(60))).to.deep.equal({ ok: true, bufferedBytes: 120, backpressure: true });
      expect(client.bufferedBytes()).to.equal(120);
      expect(client.send('c'.repeat(10))).to.deep.equal({ ok: true, bufferedBytes: 130, backpressure: true });
      w.scheduler.runUntil(t0 + 59);
      expect(cEar.drains).to.deep.equal([]);
      w.scheduler.runUntil(t0 + 1000);
      // 'a' is off the wire at +60 ms: 70 bytes left <= 100.
      expect(cEar.drains).to.deep.equal([t0 + 60]);
      expect(client.bufferedBytes()).to.equal(0);
      expect(sEar.frames.map((f) => f.t - t0)).to.deep.equal([65, 125, 135]);
    });

    it('disconnect every: closes one open link per period with 1006 on both sides, and stops at healAt', () => {
      const w = world({ disconnect: { at: [], everyMs: 100 }, healAt: 350 });
      const ends = ['a', 'b', 'c', 'd'].map((id) => pair(w, id));
      expect(w.scheduler.now).to.be.below(100);
      w.scheduler.runUntil(10_000);
      const closed = ends.filter((e) => e.cEar.closes.length > 0);
      expect(closed).to.have.length(3);
      for (const e of closed) {
        expect(e.cEar.closes.map((c) => c.info)).to.deep.equal([{ code: 1006, reason: 'disconnect' }]);
        expect(e.sEar.closes.map((c) => c.info)).to.deep.equal([{ code: 1006, reason: 'disconnect' }]);
      }
      expect(closed.map((e) => e.cEar.closes[0]!.t).sort()).to.deep.equal([100, 200, 300]);
      expect(w.net.stats().disconnect).to.equal(3);
      expect(w.net.openLinks()).to.equal(1);
      expect(w.scheduler.size).to.equal(0); // nothing left scheduled: a healed world settles
    });

    it('disconnect every: a link that comes or goes changes no other link\'s fate (what lets a shrinker drop a user)', () => {
      fc.assert(
        fc.property(fc.integer({ min: 1, max: 1_000_000 }), fc.integer({ min: 2, max: 6 }), (seed, n) => {
          const victims = (ids: string[]) => {
            const w = world({ disconnect: { at: [], everyMs: 100 }, healAt: 100 * n + 50 }, seed);
            for (const id of ids) pair(w, id);
            w.scheduler.runUntil(10_000);
            return w.trace.records.flatMap((r) => (r.k === 'fault' && r.fault === 'disconnect' ? [r.target] : []));
          };
          const ids = Array.from({ length: n }, (_, i) => `l${i}`);
          const without = victims(ids);
          const withExtra = victims([...ids, 'extra']);
          // up to the extra link's own disconnect, the same links go at the same ticks
          const upTo = withExtra.includes('extra') ? withExtra.indexOf('extra') : withExtra.length;
          expect(withExtra.slice(0, upTo)).to.deep.equal(without.slice(0, upTo));
        }),
        params(100),
      );
    });

    it('disconnect at: one link at each listed time before healAt', () => {
      const w = world({ disconnect: { at: [50, 60, 5000] }, healAt: 1000 });
      const ends = ['a', 'b', 'c'].map((id) => pair(w, id));
      w.scheduler.runUntil(10_000);
      expect(ends.filter((e) => e.cEar.closes.length > 0)).to.have.length(2);
    });

    it('restart: all links close 1012 on both sides, connects are refused while down, then onRestart', () => {
      const w = world({ restarts: [{ at: 100, downMs: 50 }] });
      const ends = ['a', 'b'].map((id) => pair(w, id));
      let during: { link: Link; ear: Ear } | undefined;
      let after: { link: Link; ear: Ear } | undefined;
      w.scheduler.at(120, 'connect', () => (during = w.connect('x')));
      w.scheduler.at(150, 'connect', () => (after = w.connect('y')));
      w.scheduler.runUntil(1000);
      for (const e of ends) {
        expect(e.cEar.closes).to.deep.equal([{ t: 100, info: { code: 1012, reason: 'restart' } }]);
        expect(e.sEar.closes).to.deep.equal([{ t: 100, info: { code: 1012, reason: 'restart' } }]);
      }
      expect(during!.ear.closes.map((c) => c.info)).to.deep.equal([{ code: 1006, reason: 'connect refused' }]);
      expect(w.restarts).to.deep.equal([150]);
      expect(after!.ear.opened).to.deep.equal([155]);
      expect(w.net.stats().restart).to.equal(1);
    });

    it('blackhole: the connect neither opens nor fails until the client closes it', () => {
      const w = world({ blackholes: [{ target: 'endpoint:acme/ann/t1', from: 0, to: 500 }], healAt: HEALED_LATER });
      const { link, ear } = w.connect('c1');
      w.scheduler.runUntil(100_000);
      expect(ear.opened).to.deep.equal([]);
      expect(ear.closes).to.deep.equal([]);
      expect(link.send('x')).to.deep.equal({ ok: false, reason: 'closed' });
      expect(w.net.openLinks()).to.equal(1);
      expect(w.net.stats().blackhole).to.equal(1);
      link.close(4008, 'connect timeout');
      link.close(4008, 'connect timeout');
      w.scheduler.runUntil(200_000);
      expect(ear.closes.map((c) => c.info)).to.deep.equal([{ code: 4008, reason: 'connect timeout' }]);
      expect(w.net.openLinks()).to.equal(0);
      expect(w.server.size).to.equal(0);
      // Another endpoint is not blackholed.
      const other = w.connect('c2', 'acme/ann/t2');
      w.scheduler.runUntil(w.scheduler.now + 10);
      expect(other.ear.opened).to.have.length(1);
    });
  });
});
