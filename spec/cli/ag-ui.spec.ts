import { expect } from 'chai';
import type { TraceRecord } from '../../sim/records.ts';
import { agUiJsonl, streamsOf, toAgUi, verifyAgUi, type AgUiLine } from '../../cli/ag-ui.ts';
import { runAt } from '../../sim/scenario.ts';
import { findScenario } from '../../sim/scenarios/index.ts';
import { HAND_TRACE, realTrace } from './fixtures.ts';

type AppType = 'agent_started' | 'agent_thinking' | 'tool_executing' | 'tool_completed' | 'agent_completed';
const app = (t: number, conn: string, run: string, idx: number, type: AppType, thread = 'th0'): TraceRecord => ({
  t, k: 'app', conn, tenant: 't0', user: 'u0', thread, run, idx, type, seq: idx + 1, sensitivity: 'public', redacted: false, hash: 'h', receivedHash: 'h',
});
const types = (lines: readonly AgUiLine[], streamId: string) => lines.filter((l) => l.streamId === streamId).map((l) => l.type);

describe('cli/ag-ui', () => {
  it('maps a complete run, tools paired by a stack per stream', async () => {
    const script: AppType[] = ['agent_started', 'agent_thinking', 'tool_executing', 'tool_executing', 'tool_completed', 'tool_completed', 'agent_completed'];
    const lines = toAgUi(script.map((type, idx) => app(idx * 10, 'c', 'r0', idx, type)));
    expect(types(lines, 'c:r0')).to.deep.equal([
      'RUN_STARTED',
      'REASONING_START', 'REASONING_MESSAGE_START', 'REASONING_MESSAGE_CONTENT', 'REASONING_MESSAGE_END', 'REASONING_END',
      'TOOL_CALL_START', 'TOOL_CALL_ARGS', 'TOOL_CALL_END',
      'TOOL_CALL_START', 'TOOL_CALL_ARGS', 'TOOL_CALL_END',
      'TOOL_CALL_RESULT', 'TOOL_CALL_RESULT',
      'RUN_FINISHED',
    ]);
    const results = lines.filter((l) => l.type === 'TOOL_CALL_RESULT') as (AgUiLine & { toolCallId: string })[];
    expect(results.map((r) => r.toolCallId)).to.deep.equal(['r0#3', 'r0#2']); // overlapping calls close in reverse order
    expect(lines[0]).to.include({ type: 'RUN_STARTED', threadId: 'th0', runId: 'r0', streamId: 'c:r0', timestamp: 0 });
    expect(await verifyAgUi(lines)).to.deep.equal({ ok: true, errors: [] });
  });

  it('keeps an incomplete stream valid: synthetic start, CUSTOM for resync and dead letter, RUN_ERROR at the end', async () => {
    const lines = toAgUi(HAND_TRACE);
    expect(types(lines, 't0/u0/0:r0')).to.deep.equal([
      'RUN_STARTED',
      'CUSTOM', // resync th0 2 → 3
      'TOOL_CALL_START', 'TOOL_CALL_END', 'TOOL_CALL_RESULT', // a result whose tool_executing was dropped
      'CUSTOM', // dead letter r0#3
      'TOOL_CALL_START', 'TOOL_CALL_END', 'TOOL_CALL_RESULT', // the duplicate delivery, as received
      'RUN_ERROR',
    ]);
    const custom = lines.filter((l) => l.type === 'CUSTOM').map((l) => (l as { name: string }).name);
    expect(custom).to.deep.equal(['wsim.resync', 'wsim.dead_letter']);
    expect(lines[lines.length - 1]).to.include({ type: 'RUN_ERROR', code: 'wsim.incomplete' });
    expect(await verifyAgUi(lines)).to.deep.equal({ ok: true, errors: [] });
  });

  it('starts a stream that missed agent_started with a synthetic RUN_STARTED, and ends events after the finish with RUN_ERROR', async () => {
    const lines = toAgUi([
      app(1, 'c', 'r1', 1, 'agent_thinking'),
      app(2, 'c', 'r1', 2, 'agent_completed'),
      app(3, 'c', 'r1', 3, 'agent_thinking'),
      app(4, 'c', 'r1', 4, 'agent_thinking'),
    ]);
    expect(types(lines, 'c:r1')).to.deep.equal(['RUN_STARTED', 'REASONING_START', 'REASONING_MESSAGE_START', 'REASONING_MESSAGE_CONTENT', 'REASONING_MESSAGE_END', 'REASONING_END', 'RUN_FINISHED', 'RUN_ERROR']);
    expect((lines[0]!.rawEvent as { wsim: { synthetic: boolean } }).wsim.synthetic).to.equal(true);
    expect(await verifyAgUi(lines)).to.deep.equal({ ok: true, errors: [] });
  });

  it('verifies every stream of a real run with @ag-ui/client verifyEvents; every line has its streamId', async () => {
    const records = realTrace();
    const lines = toAgUi(records);
    const received = records.filter((r) => r.k === 'app').length;
    expect(received).to.be.greaterThan(20);
    expect(lines.length).to.be.greaterThan(received);
    for (const line of lines) expect(line.streamId).to.match(/^[^:]+\/[^:]+\/\d+:\S+$/);
    const streams = streamsOf(lines);
    const expected = new Set(records.flatMap((r) => (r.k === 'app' ? [`${r.conn}:${r.run}`] : [])));
    expect([...streams.keys()].sort()).to.deep.equal([...expected].sort());
    for (const events of streams.values()) {
      expect(events[0]!.type).to.equal('RUN_STARTED');
      expect(['RUN_FINISHED', 'RUN_ERROR']).to.include(events[events.length - 1]!.type);
    }
    const verdict = await verifyAgUi(lines);
    expect(verdict.errors).to.deep.equal([]);
    expect(verdict.ok).to.equal(true);
    const jsonl = agUiJsonl(lines).trimEnd().split('\n');
    expect(jsonl).to.have.length(lines.length);
    expect(JSON.parse(jsonl[0]!)).to.have.property('streamId');
  });

  it('reports what is not a valid AG-UI stream', async () => {
    const bad = [
      { type: 'RUN_STARTED', threadId: 't', runId: 'r', streamId: 's1' },
      { type: 'TOOL_CALL_END', toolCallId: 'x', streamId: 's1' },
      { type: 'RUN_STARTED', threadId: 't', runId: 'r', streamId: 's2' },
      { type: 'REASONING_START', messageId: 'm', streamId: 's2' },
      { type: 'RUN_STARTED', threadId: 't', streamId: 's3' },
      { type: 'RUN_FINISHED', threadId: 't', runId: 'r', streamId: 's3' },
    ] as unknown as AgUiLine[];
    const verdict = await verifyAgUi(bad);
    expect(verdict.ok).to.equal(false);
    expect(verdict.errors.join('\n')).to.contain("s1: Cannot send 'TOOL_CALL_END' event: No active tool call found with ID 'x'");
    expect(verdict.errors.join('\n')).to.contain('s2: ends with REASONING_START, not RUN_FINISHED or RUN_ERROR');
    expect(verdict.errors.join('\n')).to.match(/s3: RUN_STARTED does not match the schema: runId/);
  });

  it('every stream of a run under the fault override flags verifies (resyncs, retries, reconnects)', async function () {
    this.timeout(60_000);
    const overrides = { drop: 0.3, dup: 0.25, reorder: 0.4, disconnectEveryMs: 1500 };
    for (const id of ['connection_failure_recovery', 'message_delivery_failure_retry']) {
      const outcome = runAt(findScenario(id)!, { seed: 42, path: '0', overrides })!;
      const lines = toAgUi(outcome.result.trace.records);
      expect(lines.length, id).to.be.greaterThan(0);
      expect(lines.every((l) => typeof l.streamId === 'string' && l.streamId.includes(':')), id).to.equal(true);
      expect(await verifyAgUi(lines), id).to.deep.equal({ ok: true, errors: [] });
    }
  });
});
