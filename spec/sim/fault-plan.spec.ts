import { expect } from 'chai';
import fc from 'fast-check';
import { CALM_PLAN, describeFaultPlan, matchesTarget, validateFaultPlan, type FaultPlan } from '../../sim/fault-plan.ts';

const params = (runs: number): fc.Parameters<unknown> => ({
  numRuns: process.env.SIM_RUNS ? Number(process.env.SIM_RUNS) : runs,
  ...(process.env.SIM_SEED ? { seed: Number(process.env.SIM_SEED) } : {}),
});

const base = (): FaultPlan => structuredClone(CALM_PLAN);
const win = { from: 10, to: 20 };

/** [what is wrong, plan, the field path the error must name] */
const BAD: [string, unknown, string][] = [
  ['negative base latency', { ...base(), latency: { baseMs: -1, jitterMs: 0 } }, 'latency.baseMs'],
  ['NaN jitter', { ...base(), latency: { baseMs: 1, jitterMs: NaN } }, 'latency.jitterMs'],
  ['drop above 1', { ...base(), drop: 1.5 }, 'drop'],
  ['dup below 0', { ...base(), dup: -0.1 }, 'dup'],
  ['infinite reorder', { ...base(), reorder: Infinity }, 'reorder'],
  ['corrupt as a string', { ...base(), corrupt: '0.1' }, 'corrupt'],
  ['window to < from', { ...base(), partitions: [{ target: 'all', from: 30, to: 20 }] }, 'partitions[0].to'],
  ['empty tenant', { ...base(), partitions: [{ target: 'all', ...win }, { target: 'tenant:', ...win }] }, 'partitions[1].target'],
  ['user without tab slash', { ...base(), blackholes: [{ target: 'user:acme', ...win }] }, 'blackholes[0].target'],
  ['unknown target scope', { ...base(), halfOpen: [{ target: 'team:x', dir: 'c2s', ...win }] }, 'halfOpen[0].target'],
  ['bad direction', { ...base(), halfOpen: [{ target: 'all', dir: 'up', ...win }] }, 'halfOpen[0].dir'],
  ['negative window start', { ...base(), blackholes: [{ target: 'all', from: -1, to: 5 }] }, 'blackholes[0].from'],
  ['zero link bandwidth', { ...base(), links: [{ target: 'endpoint:a/b/c', bandwidth: 0 }] }, 'links[0].bandwidth'],
  ['negative downtime', { ...base(), restarts: [{ at: 5, downMs: -5 }] }, 'restarts[0].downMs'],
  ['infinite healAt', { ...base(), healAt: Infinity }, 'healAt'],
  ['zero disconnect period', { ...base(), disconnect: { at: [], everyMs: 0 } }, 'disconnect.everyMs'],
  ['negative disconnect time', { ...base(), disconnect: { at: [1, -3] } }, 'disconnect.at[1]'],
  ['negative bandwidth', { ...base(), bandwidth: -10 }, 'bandwidth'],
  ['negative send buffer', { ...base(), sendBufferBytes: -1 }, 'sendBufferBytes'],
  ['a typo', { ...base(), dorp: 0.1 }, 'dorp'],
  ['a typo inside', { ...base(), latency: { baseMs: 1, jitterMs: 0, jiter: 2 } }, 'latency.jiter'],
  ['partitions not an array', { ...base(), partitions: {} }, 'partitions'],
  ['not an object', 42, '(plan)'],
];

const target = fc.oneof(
  fc.constant('all'),
  fc.constant('tenant:acme'),
  fc.constant('user:acme/ann'),
  fc.constant('endpoint:acme/ann/tab1'),
);
const window = fc.tuple(fc.nat(10_000), fc.nat(10_000)).map(([a, b]) => ({ from: Math.min(a, b), to: Math.max(a, b) }));
const prob = fc.double({ min: 0, max: 1, noNaN: true });
const validPlan: fc.Arbitrary<FaultPlan> = fc.record(
  {
    latency: fc.record({ baseMs: fc.nat(100), jitterMs: fc.nat(100) }),
    drop: prob, dup: prob, reorder: prob, corrupt: prob,
    disconnect: fc.record({ at: fc.array(fc.nat(10_000), { maxLength: 3 }), everyMs: fc.integer({ min: 1, max: 5000 }) }, { requiredKeys: ['at'] }),
    partitions: fc.array(fc.record({ target, from: fc.constant(0), to: fc.constant(0) }).chain((p) => window.map((w) => ({ ...p, ...w }))), { maxLength: 2 }),
    halfOpen: fc.array(fc.tuple(target, window, fc.constantFrom('c2s' as const, 's2c' as const)).map(([t, w, dir]) => ({ target: t, ...w, dir })), { maxLength: 2 }),
    blackholes: fc.array(fc.tuple(target, window).map(([t, w]) => ({ target: t, ...w })), { maxLength: 2 }),
    bandwidth: fc.integer({ min: 1, max: 1e9 }),
    sendBufferBytes: fc.nat(1e9),
    links: fc.array(fc.record({ target, bandwidth: fc.integer({ min: 1, max: 1e6 }), latencyMs: fc.nat(100) }, { requiredKeys: ['target'] }), { maxLength: 2 }),
    restarts: fc.array(fc.record({ at: fc.nat(10_000), downMs: fc.nat(5000) }), { maxLength: 2 }),
    healAt: fc.nat(100_000),
  },
  { requiredKeys: ['latency', 'drop', 'dup', 'reorder', 'corrupt', 'disconnect', 'partitions', 'halfOpen', 'blackholes', 'links', 'restarts', 'healAt'] },
);

describe('sim/fault-plan', () => {
  it('accepts CALM_PLAN unchanged, and it has no faults', () => {
    const r = validateFaultPlan(CALM_PLAN);
    expect(r).to.deep.equal({ ok: true, value: CALM_PLAN });
    expect(CALM_PLAN.latency).to.deep.equal({ baseMs: 5, jitterMs: 0 });
    expect(CALM_PLAN.healAt).to.equal(0);
  });

  for (const [what, input, field] of BAD) {
    it(`rejects ${what} naming ${field}`, () => {
      const r = validateFaultPlan(input);
      expect(r.ok, JSON.stringify(r)).to.equal(false);
      if (r.ok) return;
      expect(r.error.kind).to.equal('fault_plan');
      expect(r.error.field).to.equal(field);
      expect(r.error.message).to.be.a('string').and.not.equal('');
    });
  }

  it('accepts every valid plan and returns it unchanged, also after a JSON round trip', () => {
    fc.assert(
      fc.property(validPlan, (plan) => {
        expect(validateFaultPlan(plan)).to.deep.equal({ ok: true, value: plan });
        expect(validateFaultPlan(JSON.parse(JSON.stringify(plan)))).to.deep.equal({ ok: true, value: plan });
      }),
      params(200),
    );
  });

  it('fills missing fields from CALM_PLAN', () => {
    expect(validateFaultPlan({ drop: 0.2, healAt: 100 })).to.deep.equal({ ok: true, value: { ...CALM_PLAN, drop: 0.2, healAt: 100 } });
  });

  it('matches targets by whole segments', () => {
    const cases: [string, string, boolean][] = [
      ['all', 'acme/ann/t1', true],
      ['tenant:acme', 'acme/ann/t1', true],
      ['tenant:acme', 'acme2/ann/t1', false],
      ['tenant:acme', 'other/acme/t1', false],
      ['user:acme/ann', 'acme/ann/t1', true],
      ['user:acme/ann', 'acme/anna/t1', false],
      ['user:acme/ann', 'beta/ann/t1', false],
      ['endpoint:acme/ann/t1', 'acme/ann/t1', true],
      ['endpoint:acme/ann/t1', 'acme/ann/t2', false],
      ['tenant:acme', 'server', false],
    ];
    for (const [t, e, want] of cases) expect(matchesTarget(t, e), `${t} vs ${e}`).to.equal(want);
  });

  it('describes the full vector on one line: any change to the plan changes the line', () => {
    fc.assert(
      fc.property(validPlan, validPlan, (a, b) => {
        const da = describeFaultPlan(a);
        expect(da).to.not.contain('\n');
        if (JSON.stringify(a) !== JSON.stringify(b)) expect(da).to.not.equal(describeFaultPlan(b));
      }),
      params(200),
    );
    const line = describeFaultPlan(CALM_PLAN);
    for (const key of ['latency', 'drop', 'dup', 'reorder', 'corrupt', 'disconnect', 'partitions', 'halfOpen', 'blackholes', 'bandwidth', 'sendBuffer', 'links', 'restarts', 'healAt']) {
      expect(line).to.contain(`${key}=`);
    }
  });
});
