/**
 * The producer of one agent run: a machine that can only emit a legal run.
 *
 * The contract: `agent_started` first; any number of `agent_thinking`; each
 * `tool_executing` (unique toolId within the run) closed later by its
 * `tool_completed`, several tools open at once allowed (nested or parallel);
 * `agent_completed` last, and only when no tool is open.
 *
 * A legal request runs `record` (context: idx, open and closed tools, last)
 * and then `emit` with the built event. An illegal one runs `recordRefusal`
 * and then `refuse` with a typed error, and emits nothing. `emit` and
 * `refuse` do nothing by default: the world supplies them with
 * `machine.provide({ actions })`.
 *
 * Every event costs the same however long the run: a run's tools are the few
 * open now plus the completed ones in frozen chunks (a completion copies one
 * chunk), and refusals are counted, not listed. A record of every tool copied
 * per tool event made a run of n tools cost O(n²): 8.6 µs per event at 250.
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
  /** The tools started and not yet completed: few at a time, copied on each change. */
  open: Readonly<Record<string, true>>;
  /** The completed tools' ids, in chunks of at most `TOOL_CHUNK`: only the last one is ever copied. */
  closed: readonly Readonly<Record<string, true>>[];
  /** The last emitted event (what `emit` receives). */
  last: AgentEvent | undefined;
  /** Requests refused so far, and the last refusal (what `refuse` receives). */
  refused: number;
  lastRefusal: IllegalOrder | undefined;
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

/** Completed ids per chunk: a completion copies at most this many keys, a lookup visits tools / this many chunks. */
const TOOL_CHUNK = 64;

const isOpen = (context: AgentRunContext, id: string): boolean => Object.hasOwn(context.open, id);
const isClosed = (context: AgentRunContext, id: string): boolean => context.closed.some((chunk) => Object.hasOwn(chunk, id));
const openTools = (context: AgentRunContext): string[] => Object.keys(context.open);

/** A tool's status in the run, or undefined when its id was never used. */
export function toolStatus(context: AgentRunContext, id: string): ToolStatus | undefined {
  return isOpen(context, id) ? 'open' : isClosed(context, id) ? 'closed' : undefined;
}

/** Every tool of the run with its status (a view for reports and specs: the machine never builds it). */
export function toolsOf(context: AgentRunContext): Record<string, ToolStatus> {
  const out: Record<string, ToolStatus> = {};
  for (const chunk of context.closed) for (const id of Object.keys(chunk)) out[id] = 'closed';
  for (const id of openTools(context)) out[id] = 'open';
  return out;
}

/** The tools after `event`: a tool_executing opens its id, a tool_completed moves it to the last closed chunk. */
function toolsAfter(context: AgentRunContext, event: AgentEvent): Partial<Pick<AgentRunContext, 'open' | 'closed'>> {
  const id = event.toolId;
  if (id === undefined) return {};
  if (event.type === 'tool_executing') return { open: { ...context.open, [id]: true } };
  const open: Record<string, true> = {};
  for (const other of openTools(context)) if (other !== id) open[other] = true;
  const last = context.closed.at(-1);
  const closed = last === undefined || Object.keys(last).length >= TOOL_CHUNK ? [...context.closed, { [id]: true as const }] : [...context.closed.slice(0, -1), { ...last, [id]: true as const }];
  return { open, closed };
}

/** Why a request is refused in the running state (the other states refuse everything). */
function runningRefusalReason(context: AgentRunContext, request: AgentRunRequest): string {
  switch (request.type) {
    case 'START':
      return 'the run has already started';
    case 'TOOL_START':
      return `tool ${request.toolId} was already used in this run`;
    case 'TOOL_END':
      return isClosed(context, request.toolId) ? `tool ${request.toolId} is already completed` : `tool ${request.toolId} was never started`;
    case 'COMPLETE':
      return `tools still open: ${openTools(context).join(', ')}`;
    case 'THINK':
      return 'thinking is always legal while running'; // unreachable: no guard refuses it
  }
}

// ---- machine ---------------------------------------------------------------

const emitLast = { type: 'emit', params: ({ context }: { context: AgentRunContext }): EmitParams => ({ event: context.last! }) } as const;
const refuseLast = { type: 'refuse', params: ({ context }: { context: AgentRunContext }): RefuseParams => ({ error: context.lastRefusal! }) } as const;
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
      return { idx: context.idx + 1, last: built, ...toolsAfter(context, built) };
    }),
    /** `reason` undefined: derive it from the running state's rules. */
    recordRefusal: assign(({ context, event }, params: { reason: string | undefined }) => ({
      refused: context.refused + 1,
      lastRefusal: { code: 'illegal_order' as const, request: event.type, reason: params.reason ?? runningRefusalReason(context, event) },
    })),
  },
  guards: {
    toolIdUnused: ({ context, event }) => event.type === 'TOOL_START' && toolStatus(context, event.toolId) === undefined,
    toolIsOpen: ({ context, event }) => event.type === 'TOOL_END' && isOpen(context, event.toolId),
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
    open: {},
    closed: [],
    last: undefined,
    refused: 0,
    lastRefusal: undefined,
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
