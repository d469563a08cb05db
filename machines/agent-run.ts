/**
 * The producer of one agent run: a machine that can only emit a legal run.
 *
 * The contract: `agent_started` first; any number of `agent_thinking`; each
 * `tool_executing` (unique toolId within the run) closed later by its
 * `tool_completed`, several tools open at once allowed (nested or parallel);
 * `agent_completed` last, and only when no tool is open.
 *
 * A legal request runs `record` (context: idx, tools, last) and then `emit`
 * with the built event. An illegal one runs `recordRefusal` and then `refuse`
 * with a typed error, and emits nothing. `emit` and `refuse` do nothing by
 * default: the world supplies them with `machine.provide({ actions })`.
 *
 * `completed` is terminal but deliberately not `type: 'final'`: a final
 * top-level state stops the actor, and XState would drop later requests
 * silently, where the contract wants each one refused and counted.
 */

import { assign, setup } from 'xstate';
import type { AgentEvent, EventType, Sensitivity } from './frames.ts';
import { payloadHash } from './hash.ts';

// ---- types -----------------------------------------------------------------

export interface AgentRunInput {
  tenant: string;
  user: string;
  thread: string;
  run: string;
  /** Sensitivity per event type; absent types are 'public'. */
  sensitivities?: Partial<Record<EventType, Sensitivity>>;
}

export type AgentRunRequest =
  | { type: 'START'; payload?: string }
  | { type: 'THINK'; payload?: string }
  | { type: 'TOOL_START'; toolId: string; payload?: string }
  | { type: 'TOOL_END'; toolId: string; payload?: string }
  | { type: 'COMPLETE'; payload?: string };

export interface IllegalOrder {
  code: 'illegal_order';
  /** The request's type, e.g. 'TOOL_END'. */
  request: string;
  reason: string;
}

export type ToolStatus = 'open' | 'closed';

export interface AgentRunContext extends Required<Omit<AgentRunInput, 'sensitivities'>> {
  sensitivities: Partial<Record<EventType, Sensitivity>>;
  /** idx of the next emitted event. */
  idx: number;
  /** Every toolId of the run so far: open until its tool_completed. */
  tools: Record<string, ToolStatus>;
  /** The last emitted event (what `emit` receives). */
  last: AgentEvent | undefined;
  refusals: IllegalOrder[];
}

export interface EmitParams {
  event: AgentEvent;
}
export interface RefuseParams {
  error: IllegalOrder;
}

// ---- pure helpers ----------------------------------------------------------

/** The event type each legal request produces. */
const EVENT_OF: Record<AgentRunRequest['type'], EventType> = {
  START: 'agent_started',
  THINK: 'agent_thinking',
  TOOL_START: 'tool_executing',
  TOOL_END: 'tool_completed',
  COMPLETE: 'agent_completed',
};

function buildEvent(context: AgentRunContext, request: AgentRunRequest): AgentEvent {
  const type = EVENT_OF[request.type];
  const payload = request.payload ?? '';
  const event: AgentEvent = {
    tenant: context.tenant,
    user: context.user,
    thread: context.thread,
    run: context.run,
    idx: context.idx,
    type,
    sensitivity: context.sensitivities[type] ?? 'public',
    payload,
    hash: payloadHash(payload),
  };
  if ('toolId' in request) event.toolId = request.toolId;
  return event;
}

function openTools(context: AgentRunContext): string[] {
  return Object.keys(context.tools).filter((id) => context.tools[id] === 'open');
}

/** Why a request is refused in the running state (the other states refuse everything). */
function runningRefusalReason(context: AgentRunContext, request: AgentRunRequest): string {
  switch (request.type) {
    case 'START':
      return 'the run has already started';
    case 'TOOL_START':
      return `tool ${request.toolId} was already used in this run`;
    case 'TOOL_END':
      return context.tools[request.toolId] === 'closed' ? `tool ${request.toolId} is already completed` : `tool ${request.toolId} was never started`;
    case 'COMPLETE':
      return `tools still open: ${openTools(context).join(', ')}`;
    case 'THINK':
      return 'thinking is always legal while running'; // unreachable: no guard refuses it
  }
}

// ---- machine ---------------------------------------------------------------

const emitLast = { type: 'emit', params: ({ context }: { context: AgentRunContext }): EmitParams => ({ event: context.last! }) } as const;
const refuseLast = { type: 'refuse', params: ({ context }: { context: AgentRunContext }): RefuseParams => ({ error: context.refusals.at(-1)! }) } as const;
/** A legal request: update the context, then hand the new event to the world. */
const emitting = ['record', emitLast] as const;
/** An illegal request: count it, then hand the error to the world. */
const refusing = (reason: string) => [{ type: 'recordRefusal', params: { reason } }, refuseLast] as const;
const refusingWhileRunning = [{ type: 'recordRefusal', params: { reason: undefined } }, refuseLast] as const;

export const agentRunMachine = setup({
  types: {
    input: {} as AgentRunInput,
    context: {} as AgentRunContext,
    events: {} as AgentRunRequest,
  },
  actions: {
    /** The world's hook: publish the event. */
    emit: (_, _params: EmitParams) => {},
    /** The world's hook: report the refusal. */
    refuse: (_, _params: RefuseParams) => {},
    record: assign(({ context, event }) => {
      const built = buildEvent(context, event);
      const tools = built.toolId === undefined ? context.tools : { ...context.tools, [built.toolId]: built.type === 'tool_executing' ? ('open' as const) : ('closed' as const) };
      return { idx: context.idx + 1, tools, last: built };
    }),
    /** `reason` undefined: derive it from the running state's rules. */
    recordRefusal: assign(({ context, event }, params: { reason: string | undefined }) => ({
      refusals: [...context.refusals, { code: 'illegal_order' as const, request: event.type, reason: params.reason ?? runningRefusalReason(context, event) }],
    })),
  },
  guards: {
    toolIdUnused: ({ context, event }) => event.type === 'TOOL_START' && context.tools[event.toolId] === undefined,
    toolIsOpen: ({ context, event }) => event.type === 'TOOL_END' && context.tools[event.toolId] === 'open',
    noToolOpen: ({ context }) => openTools(context).length === 0,
  },
}).createMachine({
  id: 'agentRun',
  context: ({ input }) => ({
    tenant: input.tenant,
    user: input.user,
    thread: input.thread,
    run: input.run,
    sensitivities: input.sensitivities ?? {},
    idx: 0,
    tools: {},
    last: undefined,
    refusals: [],
  }),
  initial: 'idle',
  states: {
    idle: {
      on: {
        START: { target: 'running', actions: emitting },
        '*': { actions: refusing('the run has not started') },
      },
    },
    running: {
      on: {
        START: { actions: refusingWhileRunning },
        THINK: { actions: emitting },
        TOOL_START: [{ guard: 'toolIdUnused', actions: emitting }, { actions: refusingWhileRunning }],
        TOOL_END: [{ guard: 'toolIsOpen', actions: emitting }, { actions: refusingWhileRunning }],
        COMPLETE: [{ guard: 'noToolOpen', target: 'completed', actions: emitting }, { actions: refusingWhileRunning }],
      },
    },
    completed: {
      tags: ['done'],
      on: {
        '*': { actions: refusing('the run is completed') },
      },
    },
  },
});

export type AgentRunMachine = typeof agentRunMachine;
