import { expect } from 'chai';
import fc from 'fast-check';
import { LivenessError, Scheduler, type TimerId } from '../../sim/scheduler.ts';

/** fast-check settings: modest by default, SIM_RUNS scales, SIM_SEED pins. */
const params = (runs: number): fc.Parameters<unknown> => ({
  numRuns: process.env.SIM_RUNS ? Number(process.env.SIM_RUNS) : runs,
  ...(process.env.SIM_SEED ? { seed: Number(process.env.SIM_SEED) } : {}),
});

/** (due, creation order) must strictly increase along the firing sequence. */
function assertFiringOrder(fired: { due: number; seq: number; now: number }[]): void {
  for (let i = 0; i < fired.length; i++) {
    const f = fired[i]!;
    expect(f.now, `timer #${f.seq} fired at ${f.now}, due ${f.due}`).to.equal(f.due);
    const prev = fired[i - 1];
    if (prev === undefined) continue;
    const inOrder = prev.due < f.due || (prev.due === f.due && prev.seq < f.seq);
    expect(inOrder, `#${prev.seq}@${prev.due} fired before #${f.seq}@${f.due}`).to.equal(true);
  }
}

describe('sim/scheduler', () => {
  it('fires every timer at its due time, by (due, creation order), including timers set by callbacks and cancels', () => {
    // short delays, and delays around and beyond the far-heap threshold (1 s), so entries of both heaps tie
    const delay = fc.oneof(fc.integer({ min: 0, max: 12 }), fc.integer({ min: 995, max: 1005 }), fc.constantFrom(1990, 2000, 3000));
    const timer = fc.record({
      delay,
      kids: fc.array(delay, { maxLength: 3 }),
      cancels: fc.option(fc.nat(40), { nil: undefined }),
    });
    fc.assert(
      fc.property(fc.array(timer, { minLength: 1, maxLength: 40 }), (plan) => {
        const s = new Scheduler();
        const fired: { due: number; seq: number; now: number }[] = [];
        const ids: TimerId[] = [];
        const cancelled = new Set<number>();
        let created = 0;
        let expectedFires = 0;
        const make = (delay: number, body: () => void): TimerId => {
          const seq = created++;
          const due = s.now + delay;
          expectedFires++;
          return s.after(delay, `t${seq}`, () => {
            expect(cancelled.has(seq), `cancelled timer #${seq} ran`).to.equal(false);
            fired.push({ due, seq, now: s.now });
            body();
          });
        };
        const seqOfId = new Map<TimerId, number>();
        plan.forEach((p) => {
          const seq = created;
          const id = make(p.delay, () => {
            for (const k of p.kids) make(k, () => {});
            if (p.cancels !== undefined) {
              const victim = ids[p.cancels % ids.length]!;
              const victimSeq = seqOfId.get(victim)!;
              const wasLive = !fired.some((f) => f.seq === victimSeq) && !cancelled.has(victimSeq);
              expect(s.cancel(victim)).to.equal(wasLive);
              if (wasLive) {
                cancelled.add(victimSeq);
                expectedFires--;
              }
            }
          });
          ids.push(id);
          seqOfId.set(id, seq);
        });
        while (s.step());
        assertFiringOrder(fired);
        expect(fired.length).to.equal(expectedFires);
        expect(s.size).to.equal(0);
        expect(s.steps).to.equal(fired.length);
      }),
      params(200),
    );
  });

  it('runs ties in insertion order', () => {
    const s = new Scheduler();
    const order: string[] = [];
    for (const name of ['a', 'b', 'c', 'd']) s.at(10, name, () => order.push(name));
    s.at(5, 'early', () => s.at(10, 'late', () => order.push('late')));
    s.runUntil(100);
    expect(order).to.deep.equal(['a', 'b', 'c', 'd', 'late']);
  });

  it('keeps order after mass cancellation compacts the heap', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 3000 }), { minLength: 3000, maxLength: 3000 }), fc.integer(), (dues, salt) => {
        const s = new Scheduler();
        const fired: { due: number; seq: number; now: number }[] = [];
        const ids = dues.map((due, seq) => s.at(due, 'x', () => fired.push({ due, seq, now: s.now })));
        const kept = new Set<number>();
        ids.forEach((id, seq) => ((seq * 7 + salt) % 10 === 0 ? kept.add(seq) : s.cancel(id)));
        expect(s.size).to.equal(kept.size);
        while (s.step());
        assertFiringOrder(fired);
        expect(fired.map((f) => f.seq).sort((a, b) => a - b)).to.deep.equal([...kept].sort((a, b) => a - b));
      }),
      params(10),
    );
  });

  it('runUntil runs exactly the entries due <= t, each at its due time, and then sets now = t', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 100 }), { maxLength: 50 }), fc.integer({ min: 0, max: 100 }), (dues, t) => {
        const s = new Scheduler();
        const ran: number[] = [];
        dues.forEach((d) =>
          s.at(d, 'x', () => {
            // Each entry sees its own due time, not the end of the jump.
            expect(s.now).to.equal(d);
            ran.push(d);
          }),
        );
        const n = s.runUntil(t);
        expect(n).to.equal(dues.filter((d) => d <= t).length);
        expect(ran.every((d) => d <= t)).to.equal(true);
        expect(s.now).to.equal(t);
        expect(s.size).to.equal(dues.length - n);
      }),
      params(100),
    );
  });

  it('clamps negative delays and past times to now; cancel reports liveness', () => {
    const s = new Scheduler();
    s.runUntil(50);
    let at = -1;
    s.after(-10, 'neg', () => (at = s.now));
    const past = s.at(20, 'past', () => {});
    expect(s.pending()).to.deep.equal([
      { at: 50, label: 'neg' },
      { at: 50, label: 'past' },
    ]);
    expect(s.cancel(past)).to.equal(true);
    expect(s.cancel(past)).to.equal(false);
    expect(s.cancel({ seq: 12345 })).to.equal(false); // not an id this scheduler gave
    expect(s.size).to.equal(1);
    expect(s.pending()).to.deep.equal([{ at: 50, label: 'neg' }]);
    s.step();
    expect(at).to.equal(50);
    expect(s.step()).to.equal(false);
  });

  it('pending lists the first entries by due time, skipping cancelled ones', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.integer({ min: 0, max: 1000 }), fc.boolean()), { maxLength: 100 }), fc.integer({ min: 1, max: 30 }), (items, limit) => {
        const s = new Scheduler();
        const live: { at: number; label: string; seq: number }[] = [];
        items.forEach(([at, cancel], seq) => {
          const id = s.at(at, `e${seq}`, () => {});
          if (cancel) s.cancel(id);
          else live.push({ at, label: `e${seq}`, seq });
        });
        live.sort((a, b) => a.at - b.at || a.seq - b.seq);
        expect(s.pending(limit)).to.deep.equal(live.slice(0, limit).map(({ at, label }) => ({ at, label })));
      }),
      params(100),
    );
  });

  describe('runUntilSettled', () => {
    it('fails with a LivenessError naming the pending label on a world that never settles', () => {
      const s = new Scheduler();
      const beat = (): void => void s.after(1000, 'heartbeat', beat);
      s.after(1000, 'heartbeat', beat);
      s.at(1e12, 'far-away', () => {});
      const r = s.runUntilSettled({ maxSteps: 500 });
      expect(r.ok).to.equal(false);
      if (r.ok) return;
      expect(r.error).to.be.instanceOf(LivenessError);
      expect(r.error.kind).to.equal('liveness');
      expect(r.error.steps).to.equal(500);
      expect(r.error.now).to.equal(500_000);
      expect(r.error.pending).to.deep.equal([
        { at: 501_000, label: 'heartbeat' },
        { at: 1e12, label: 'far-away' },
      ]);
      expect(r.error.message).to.contain('heartbeat@501000');
      expect(r.error.message).to.contain('500 steps');
    });

    it('limits the pending list to about 20 entries', () => {
      const s = new Scheduler();
      for (let i = 0; i < 100; i++) s.at(i, `t${i}`, () => s.after(1, `t${i}`, () => {}));
      const r = s.runUntilSettled({ maxSteps: 10 });
      expect(r.ok).to.equal(false);
      if (!r.ok) expect(r.error.pending).to.have.length(20);
    });

    it('stops when the queue is empty or settled() holds', () => {
      const s = new Scheduler();
      let n = 0;
      const tick = (): void => void (n++, s.after(10, 'tick', tick));
      s.after(10, 'tick', tick);
      const r = s.runUntilSettled({ maxSteps: 1000, settled: () => n >= 7 });
      expect(r).to.deep.equal({ ok: true, steps: 7, now: 70 });

      const e = new Scheduler();
      e.at(3, 'a', () => e.at(9, 'b', () => {}));
      expect(e.runUntilSettled({ maxSteps: 2 })).to.deep.equal({ ok: true, steps: 2, now: 9 });
    });
  });
});
