/**
 * The oracle's role policy reads the trace in order: the role an event was
 * produced under is the role after every change written before it, even a
 * change in the same millisecond. Times alone misjudged a downgrade written
 * right after an event the server had already sent in full (seed 7, path 65
 * of `event_routing_with_role_based_access`: a viewer "received a full
 * internal event" that went out while the user was still an analyst).
 */
import { expect } from 'chai';
import { judge } from '../../sim/oracle.ts';
import type { TraceRecord } from '../../sim/records.ts';

const C = 't0/u0/0';
const START: TraceRecord[] = [
  { t: 0, k: 'conn', conn: C, tenant: 't0', user: 'u0', role: 'analyst', endpoint: C },
  { t: 0, k: 'subscribe', conn: C, thread: 'th0', on: true },
];
const produce: TraceRecord = { t: 10, k: 'produce', tenant: 't0', user: 'u0', thread: 'th0', run: 'r0', idx: 0, type: 'agent_started', sensitivity: 'internal', bytes: 1, hash: 'h0' };
const downgrade: TraceRecord = { t: 10, k: 'role', tenant: 't0', user: 'u0', role: 'viewer' };
const fullDelivery: TraceRecord = {
  t: 12, k: 'app', conn: C, tenant: 't0', user: 'u0', thread: 'th0', run: 'r0', idx: 0, type: 'agent_started', seq: 1, sensitivity: 'internal', redacted: false, hash: 'h0', receivedHash: 'h0',
};
const END: TraceRecord = { t: 100, k: 'end', pendingTimers: 0, liveActors: 0, openLinks: 0, healedAt: 90 };
const policyBreaks = (records: TraceRecord[]) => judge(records).violations.filter((v) => v.invariant === 'role_policy').map((v) => v.message);

describe('oracle: the role an event was produced under follows the trace order', () => {
  it('a downgrade written after the event, in the same millisecond, does not apply to it', () => {
    expect(policyBreaks([...START, produce, downgrade, fullDelivery, END])).to.deep.equal([]);
  });

  it('a downgrade written before the event, in the same millisecond, does: a full delivery to the viewer breaks the policy', () => {
    expect(policyBreaks([...START, downgrade, produce, fullDelivery, END])).to.have.length(1);
  });
});
