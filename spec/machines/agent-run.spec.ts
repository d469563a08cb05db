/**
 * The agent-run producer, model-based: paths generated from the machine by
 * xstate/graph are executed against a real actor, and every step is judged by
 * this file's own reference model and run checker (not by the machine's
 * guards), so a machine that emits an illegal run, or refuses a legal
 * request, fails here.
 */

import { expect } from 'chai';
import fc from 'fast-check';
import { createActor, type AnyTransitionDefinition } from 'xstate';
import { getShortestPaths, getSimplePaths, getStateNodes } from 'xstate/graph';
import { agentRunMachine, toolsOf, type AgentRunInput, type AgentRunRequest, type IllegalOrder } from '../../machines/agent-run.ts';
import type { AgentEvent, EventType } from '../../machines/frames.ts';
import { payloadHash } from '../../machines/hash.ts';
import { runParams, textArb } from './frame-arbitraries.ts';

// ---- the contract, restated independently ----------------------------------

const INPUT: AgentRunInput = { tenant: 'acme', user: 'u1', thread: 'th1', run: 'r1', sensitivities: { tool_completed: 'restricted', agent_thinking: 'internal' } };

/** Violations of the run contract in an emitted sequence; `complete`: the run must also be finished. */
function runViolations(events: AgentEvent[], complete: boolean): string[] {
  const v: string[] = [];
  const open = new Set<string>();
  const used = new Set<string>();
  let done = false;
  events.forEach((e, i) => {
    if (e.idx !== i) v.push(`event ${i} has idx ${e.idx}`);
    if (done) v.push(`${e.type} after agent_completed`);
    if ((i === 0) !== (e.type === 'agent_started')) v.push(`agent_started must be first and only first (event ${i} is ${e.type})`);
    if (e.hash !== payloadHash(e.payload)) v.push(`event ${i} hash does not match its payload`);
    if (e.tenant !== INPUT.tenant || e.user !== INPUT.user || e.thread !== INPUT.thread || e.run !== INPUT.run) v.push(`event ${i} names another run`);
    if (e.sensitivity !== (INPUT.sensitivities?.[e.type] ?? 'public')) v.push(`event ${i} has sensitivity ${e.sensitivity}`);
    const tool = e.toolId;
    if ((e.type === 'tool_executing' || e.type === 'tool_completed') !== (tool !== undefined)) v.push(`event ${i} (${e.type}) toolId presence is wrong`);
    if (e.type === 'tool_executing' && tool !== undefined) {
      if (used.has(tool)) v.push(`tool ${tool} started twice`);
      used.add(tool);
      open.add(tool);
    }
    if (e.type === 'tool_completed' && tool !== undefined) {
      if (!open.has(tool)) v.push(`tool ${tool} completed while not open`);
      open.delete(tool);
    }
    if (e.type === 'agent_completed') {
      if (open.size > 0) v.push(`agent_completed with open tools ${[...open].join(',')}`);
      done = true;
    }
  });
  if (complete && !done) v.push('run not completed');
  return v;
}

/** The reference model: what a request should do, from the requests alone. */
class RunModel {
  phase: 'idle' | 'running' | 'completed' = 'idle';
  tools = new Map<string, 'open' | 'closed'>();

  /** The event type a legal request emits, or undefined when it must be refused. Updates the model. */
  apply(r: AgentRunRequest): EventType | undefined {
    const legal = this.isLegal(r);
    if (!legal) return undefined;
    if (r.type === 'START') this.phase = 'running';
    if (r.type === 'COMPLETE') this.phase = 'completed';
    if (r.type === 'TOOL_START') this.tools.set(r.toolId, 'open');
    if (r.type === 'TOOL_END') this.tools.set(r.toolId, 'closed');
    return ({ START: 'agent_started', THINK: 'agent_thinking', TOOL_START: 'tool_executing', TOOL_END: 'tool_completed', COMPLETE: 'agent_completed' } as const)[r.type];
  }

  private isLegal(r: AgentRunRequest): boolean {
    if (this.phase === 'idle') return r.type === 'START';
    if (this.phase === 'completed') return false;
    switch (r.type) {
      case 'START':
        return false;
      case 'THINK':
        return true;
      case 'TOOL_START':
        return !this.tools.has(r.toolId);
      case 'TOOL_END':
        return this.tools.get(r.toolId) === 'open';
      case 'COMPLETE':
        return [...this.tools.values()].every((s) => s === 'closed');
    }
  }
}

// ---- a real actor, recorded -------------------------------------------------

/** Where the provided actions write; reset per run. */
const sink = { emitted: [] as AgentEvent[], refused: [] as IllegalOrder[], transitions: new Set<AnyTransitionDefinition>() };

/** One provided machine for all runs, so its transition objects identify coverage. */
const machine = agentRunMachine.provide({
  actions: {
    emit: (_, { event }) => void sink.emitted.push(event),
    refuse: (_, { error }) => void sink.refused.push(error),
  },
});

/** Run requests one by one against a real actor, checking every step against the model. */
function execute(requests: readonly AgentRunRequest[], expectedValues?: readonly string[]): void {
  sink.emitted = [];
  sink.refused = [];
  const actor = createActor(machine, {
    input: INPUT,
    inspect: (ev) => {
      if (ev.type === '@xstate.microstep') for (const t of ev._transitions) sink.transitions.add(t);
    },
  }).start();
  const model = new RunModel();
  requests.forEach((request, i) => {
    const before = { emitted: sink.emitted.length, refused: sink.refused.length };
    actor.send(request);
    const expectedType = model.apply(request);
    const at = `step ${i} ${JSON.stringify(request)}`;
    const snapshot = actor.getSnapshot();
    if (expectedType === undefined) {
      expect(sink.emitted.length, `${at}: an illegal request emitted`).to.equal(before.emitted);
      expect(sink.refused.length, `${at}: an illegal request was not refused`).to.equal(before.refused + 1);
      expect(sink.refused.at(-1)).to.include({ code: 'illegal_order', request: request.type });
      expect(sink.refused.at(-1)?.reason).to.be.a('string').and.not.equal('');
    } else {
      expect(sink.refused.length, `${at}: a legal request was refused: ${JSON.stringify(sink.refused.at(-1))}`).to.equal(before.refused);
      expect(sink.emitted.length, `${at}: a legal request did not emit exactly once`).to.equal(before.emitted + 1);
      const event = sink.emitted.at(-1)!;
      expect(event.type, at).to.equal(expectedType);
      expect(event.payload, at).to.equal(request.payload ?? '');
      if ('toolId' in request) expect(event.toolId, at).to.equal(request.toolId);
    }
    // What the state means: the model's phase; refusals counted in context; the emitted prefix legal.
    expect(snapshot.value, at).to.equal(model.phase);
    if (expectedValues) expect(snapshot.value, `${at}: the graph predicted another state`).to.equal(expectedValues[i]);
    expect([snapshot.context.refused, snapshot.context.lastRefusal]).to.deep.equal([sink.refused.length, sink.refused.at(-1)]);
    expect(snapshot.context.last).to.equal(sink.emitted.at(-1));
    expect(runViolations(sink.emitted, model.phase === 'completed'), at).to.deep.equal([]);
  });
  actor.stop();
}

// ---- paths -----------------------------------------------------------------

const EVENTS: AgentRunRequest[] = [
  { type: 'START', payload: 'go' },
  { type: 'THINK', payload: 'hmm "quoted"' },
  { type: 'TOOL_START', toolId: 'a', payload: '{"q":1}' },
  { type: 'TOOL_START', toolId: 'b' },
  { type: 'TOOL_END', toolId: 'a', payload: 'result a' },
  { type: 'TOOL_END', toolId: 'b', payload: 'result b' },
  { type: 'COMPLETE', payload: 'done' },
];

type Snap = ReturnType<typeof agentRunMachine.transition>;
/** The abstract state: the state value and each tool's status (idx and refusals grow without bound). */
const abstract = (s: Snap): string => JSON.stringify([s.value, Object.entries(toolsOf(s.context)).sort()]);
const eventKey = (e: AgentRunRequest | undefined): string => (e ? `${e.type}:${'toolId' in e ? e.toolId : ''}` : 'init');

const traversal = { input: INPUT, events: EVENTS, serializeState: (s: Snap) => abstract(s) };
/** Serializing (previous state, event, state) makes each edge a vertex: shortest paths to all of them tour every edge. */
const edgeTraversal = {
  ...traversal,
  serializeState: (s: Snap, e: AgentRunRequest | undefined, prev?: Snap) => `${prev ? abstract(prev) : ''}|${eventKey(e)}|${abstract(s)}`,
};

type Step = { event: AgentRunRequest; state: Snap };
type Path = { steps: Step[] };
/** A path's first step is the initial state, reached by 'xstate.init'. */
const initialOf = (p: Path): Snap => p.steps[0]!.state;
const requestStepsOf = (p: Path): Step[] => p.steps.filter((s) => (s.event.type as string) !== 'xstate.init');
const requestsOf = (p: Path) => requestStepsOf(p).map((s) => s.event);
const valuesOf = (p: Path) => requestStepsOf(p).map((s) => String(s.state.value));

function definedTransitions(): AnyTransitionDefinition[] {
  return getStateNodes(machine.root).flatMap((node) => [...node.transitions.values()].flat());
}
const label = (t: AnyTransitionDefinition) => `${t.source.key} -${t.eventType}${t.guard ? `[${typeof t.guard === 'string' ? t.guard : (t.guard as { type?: string }).type}]` : ''}-> ${t.target?.map((n) => n.key).join(',') ?? '(self)'}`;

describe('machines/agent-run', () => {
  const visitedValues = new Set<string>();
  const visitedVertices = new Set<string>();
  const visitedEdges = new Set<string>();
  const allVertices = new Set<string>();
  const allEdges = new Set<string>();
  const record = (paths: Path[]) => {
    for (const p of paths) {
      let prev = abstract(initialOf(p));
      visitedVertices.add(prev);
      visitedValues.add(String(initialOf(p).value));
      for (const step of requestStepsOf(p)) {
        const next = abstract(step.state);
        visitedEdges.add(`${prev} ${eventKey(step.event)}`);
        visitedVertices.add(next);
        visitedValues.add(String(step.state.value));
        prev = next;
      }
    }
  };

  before(() => {
    // The reachable abstract graph, for the vertex/edge denominators.
    for (const p of getShortestPaths(agentRunMachine, edgeTraversal) as Path[]) {
      let prev = abstract(initialOf(p));
      allVertices.add(prev);
      for (const step of requestStepsOf(p)) {
        allEdges.add(`${prev} ${eventKey(step.event)}`);
        prev = abstract(step.state);
        allVertices.add(prev);
      }
    }
  });

  it('model-based: shortest paths to every state (getShortestPaths) hold the contract at every step', () => {
    const paths = getShortestPaths(agentRunMachine, traversal) as Path[];
    console.log(`      shortest paths to states: ${paths.length}`);
    expect(paths.length).to.equal(allVertices.size);
    for (const p of paths) execute(requestsOf(p), valuesOf(p));
    record(paths);
  });

  it('model-based: shortest paths to every (state, event) edge (transition tour) hold the contract at every step', () => {
    const paths = getShortestPaths(agentRunMachine, edgeTraversal) as Path[];
    console.log(`      shortest paths to edges: ${paths.length}`);
    for (const p of paths) execute(requestsOf(p), valuesOf(p));
    record(paths);
  });

  it('model-based: every simple path (getSimplePaths) holds the contract at every step', () => {
    const paths = getSimplePaths(agentRunMachine, traversal) as Path[];
    console.log(`      simple paths: ${paths.length}`);
    expect(paths.length).to.be.greaterThan(allVertices.size);
    for (const p of paths) execute(requestsOf(p), valuesOf(p));
    record(paths);
  });

  it('model-based: coverage of states and transitions is full', () => {
    const stateIds = getStateNodes(machine.root).map((n) => n.key);
    const defined = definedTransitions();
    const hit = defined.filter((t) => sink.transitions.has(t));
    console.log(`      state coverage ${stateIds.filter((s) => visitedValues.has(s)).length}/${stateIds.length}`);
    console.log(`      transition coverage ${hit.length}/${defined.length}`);
    console.log(`      abstract state coverage ${[...allVertices].filter((v) => visitedVertices.has(v)).length}/${allVertices.size}, abstract edge coverage ${[...allEdges].filter((e) => visitedEdges.has(e)).length}/${allEdges.size}`);
    expect(stateIds.filter((s) => !visitedValues.has(s))).to.deep.equal([]);
    expect(defined.filter((t) => !sink.transitions.has(t)).map(label)).to.deep.equal([]);
    expect([...allEdges].filter((e) => !visitedEdges.has(e))).to.deep.equal([]);
  });

  it('model-based: the full reachable graph is what the contract implies (4 tool-status combinations × running/completed + idle)', () => {
    // idle; running × {a,b} ∈ {unused, open, closed}²; completed × {a,b} ∈ {unused, closed}².
    expect(allVertices.size).to.equal(1 + 9 + 4);
    expect(allEdges.size).to.equal(allVertices.size * EVENTS.length);
  });

  describe('property', () => {
    const request: fc.Arbitrary<AgentRunRequest> = fc.oneof(
      fc.record({ type: fc.constant('START' as const), payload: textArb }, { requiredKeys: ['type'] }),
      fc.record({ type: fc.constant('THINK' as const), payload: textArb }, { requiredKeys: ['type'] }),
      fc.record({ type: fc.constant('TOOL_START' as const), toolId: fc.constantFrom('a', 'b', 'c'), payload: textArb }, { requiredKeys: ['type', 'toolId'] }),
      fc.record({ type: fc.constant('TOOL_END' as const), toolId: fc.constantFrom('a', 'b', 'c'), payload: textArb }, { requiredKeys: ['type', 'toolId'] }),
      fc.record({ type: fc.constant('COMPLETE' as const), payload: textArb }, { requiredKeys: ['type'] }),
    );

    it('model-based: any random request sequence emits a legal run, refusing exactly the illegal requests', () => {
      fc.assert(
        fc.property(fc.array(request, { maxLength: 40 }), (requests) => execute(requests)),
        runParams(1000),
      );
    });

    it("model-based: a long run (hundreds of tools, ids named like Object.prototype's keys) refuses the reuse of any earlier tool id, however long ago", () => {
      const odd = fc.constantFrom('toString', 'constructor', '__proto__', 'hasOwnProperty', 'valueOf');
      fc.assert(
        fc.property(fc.integer({ min: 65, max: 300 }), fc.array(fc.nat(), { maxLength: 20 }), odd, (n, reuses, id) => {
          const requests: AgentRunRequest[] = [{ type: 'START' }];
          for (let k = 0; k < n; k++) requests.push({ type: 'TOOL_START', toolId: `t${k}` }, { type: 'TOOL_END', toolId: `t${k}` });
          for (const r of reuses) requests.push({ type: 'TOOL_START', toolId: `t${r % n}` }, { type: 'TOOL_END', toolId: `t${r % n}` });
          requests.push({ type: 'TOOL_START', toolId: id }, { type: 'TOOL_END', toolId: id }, { type: 'TOOL_START', toolId: id }, { type: 'COMPLETE' });
          execute(requests);
        }),
        runParams(40),
      );
    });

    it('model-based: a legal script (nested and parallel tools) is emitted in full with no refusal', () => {
      const script = fc.array(fc.constantFrom('think', 'open', 'close'), { maxLength: 30 }).map((ops) => {
        const requests: AgentRunRequest[] = [{ type: 'START' }];
        const open: string[] = [];
        let next = 0;
        for (const op of ops) {
          if (op === 'think') requests.push({ type: 'THINK', payload: `t${requests.length}` });
          if (op === 'open') open.push(`tool-${next++}`) && requests.push({ type: 'TOOL_START', toolId: open.at(-1)! });
          if (op === 'close' && open.length > 0) requests.push({ type: 'TOOL_END', toolId: open.splice(requests.length % open.length, 1)[0]! });
        }
        for (const toolId of open) requests.push({ type: 'TOOL_END', toolId });
        requests.push({ type: 'COMPLETE' });
        return requests;
      });
      fc.assert(
        fc.property(script, (requests) => {
          execute(requests);
          expect(sink.refused).to.deep.equal([]);
          expect(sink.emitted.map((e) => e.idx)).to.deep.equal(requests.map((_, i) => i));
        }),
        runParams(300),
      );
    });
  });
});
