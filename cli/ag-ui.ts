/**
 * What each app received, as AG-UI protocol events (@ag-ui/core 1.0), one
 * object a line, each with a `streamId` `${conn}:${run}` naming its
 * (connection, run) stream. Lines are in trace order (streams interleave).
 *
 * Mapping, per `app` record:
 * - agent_started   → RUN_STARTED { threadId, runId }
 * - agent_thinking  → REASONING_START, REASONING_MESSAGE_START,
 *                     REASONING_MESSAGE_CONTENT, REASONING_MESSAGE_END, REASONING_END
 *                     (one reasoning span per thinking event, id `${run}#${idx}`)
 * - tool_executing  → TOOL_CALL_START, TOOL_CALL_ARGS, TOOL_CALL_END (the call's
 *                     arguments are complete when it starts executing)
 * - tool_completed  → TOOL_CALL_RESULT
 * - agent_completed → RUN_FINISHED
 *
 * App records carry no payload and no toolId, so the texts are descriptions
 * (`rawEvent` holds the app record) and tool calls are paired per stream in
 * idx order with a stack: a tool_completed answers the most recent unanswered
 * tool_executing. That is exact for well-nested calls, which is what the
 * workload's scripts produce (sequential calls, or two overlapping closed in
 * reverse order); interleaved calls would be paired wrongly but still verify.
 *
 * Gaps (a resync skipped events, an event dead-lettered, a tab closed or a
 * thread was unsubscribed) must not leave an invalid stream:
 * - the first event of a stream that is not agent_started is preceded by a
 *   synthetic RUN_STARTED (`rawEvent.synthetic: true`);
 * - a tool_completed with nothing to answer gets a synthetic TOOL_CALL_START/END;
 * - resyncs and dead letters appear as CUSTOM events (`wsim.resync`,
 *   `wsim.dead_letter`) in the running streams they touch;
 * - a stream that ends without agent_completed ends with RUN_ERROR
 *   (code `wsim.incomplete`);
 * - events after the run finished (a broken protocol: the oracle reports it)
 *   end the stream with one RUN_ERROR (code `wsim.after_finish`); later ones are left out.
 * verifyAgUi checks every stream with @ag-ui/client's `verifyEvents`, plus
 * what that operator leaves out: each stream must end in RUN_FINISHED or RUN_ERROR.
 */
import { verifyEvents } from '@ag-ui/client';
import { EventType, type BaseEvent, type Event as AgUiEvent } from '@ag-ui/core';
import { EventSchemas } from '@ag-ui/core/schemas';
import { from, lastValueFrom, toArray } from 'rxjs';
import type { RecordOf, TraceRecord } from '../sim/records.ts';

export type AgUiLine = AgUiEvent & { streamId: string };

type StreamState = 'running' | 'finished' | 'errored';

interface Stream {
  id: string;
  conn: string;
  run: string;
  thread: string;
  state: StreamState;
  /** toolCallIds of tool_executing events not yet answered, most recent last. */
  openTools: string[];
  last: number;
}

export const streamIdOf = (conn: string, run: string): string => `${conn}:${run}`;

export function toAgUi(records: readonly TraceRecord[]): AgUiLine[] {
  const lines: AgUiLine[] = [];
  const streams = new Map<string, Stream>();
  const emit = (stream: Stream, t: number, event: AgUiEvent) => {
    // AG-UI timestamps are integers: simulated ms, rounded (the exact time is in the trace)
    lines.push({ ...event, timestamp: Math.round(t), streamId: stream.id } as AgUiLine);
  };
  const raw = (r: RecordOf<'app'>) => ({ wsim: { t: r.t, conn: r.conn, thread: r.thread, run: r.run, idx: r.idx, type: r.type, seq: r.seq, redacted: r.redacted, hash: r.hash } });

  /** The stream of (conn, run), opened with a RUN_STARTED (synthetic unless `started`). */
  const open = (conn: string, run: string, thread: string, t: number, started: RecordOf<'app'> | null): Stream => {
    const stream: Stream = { id: streamIdOf(conn, run), conn, run, thread, state: 'running', openTools: [], last: t };
    streams.set(stream.id, stream);
    emit(stream, t, {
      type: EventType.RUN_STARTED,
      threadId: thread,
      runId: run,
      rawEvent: started ? raw(started) : { wsim: { conn, thread, run, synthetic: true, why: 'the stream began after agent_started (a gap before it)' } },
    });
    return stream;
  };

  for (const r of records) {
    if (r.k === 'app') {
      const id = streamIdOf(r.conn, r.run);
      let stream = streams.get(id);
      if (!stream) {
        stream = open(r.conn, r.run, r.thread, r.t, r.type === 'agent_started' ? r : null);
        if (r.type === 'agent_started') continue;
      }
      stream.last = r.t;
      if (stream.state === 'errored') continue;
      if (stream.state === 'finished') {
        emit(stream, r.t, { type: EventType.RUN_ERROR, code: 'wsim.after_finish', message: `${r.conn} received ${r.type} ${r.run}#${r.idx} after agent_completed`, rawEvent: raw(r) });
        stream.state = 'errored';
        continue;
      }
      const ref = `${r.run}#${r.idx}`;
      switch (r.type) {
        case 'agent_started':
          emit(stream, r.t, { type: EventType.CUSTOM, name: 'wsim.duplicate_start', value: { idx: r.idx, seq: r.seq }, rawEvent: raw(r) });
          break;
        case 'agent_thinking': {
          const messageId = ref;
          emit(stream, r.t, { type: EventType.REASONING_START, messageId });
          emit(stream, r.t, { type: EventType.REASONING_MESSAGE_START, messageId, role: 'reasoning' });
          emit(stream, r.t, { type: EventType.REASONING_MESSAGE_CONTENT, messageId, delta: `thinking ${ref} (seq ${r.seq}${r.redacted ? ', redacted' : ''}, payload hash ${r.receivedHash})`, rawEvent: raw(r) });
          emit(stream, r.t, { type: EventType.REASONING_MESSAGE_END, messageId });
          emit(stream, r.t, { type: EventType.REASONING_END, messageId });
          break;
        }
        case 'tool_executing': {
          const toolCallId = ref;
          stream.openTools.push(toolCallId);
          emit(stream, r.t, { type: EventType.TOOL_CALL_START, toolCallId, toolCallName: 'tool', rawEvent: raw(r) });
          emit(stream, r.t, { type: EventType.TOOL_CALL_ARGS, toolCallId, delta: JSON.stringify({ idx: r.idx, seq: r.seq, redacted: r.redacted, hash: r.receivedHash }) });
          emit(stream, r.t, { type: EventType.TOOL_CALL_END, toolCallId });
          break;
        }
        case 'tool_completed': {
          let toolCallId = stream.openTools.pop();
          if (toolCallId === undefined) {
            // its tool_executing never reached this app: say so with a call of its own
            toolCallId = `${ref}:unmatched`;
            emit(stream, r.t, { type: EventType.TOOL_CALL_START, toolCallId, toolCallName: 'tool', rawEvent: { wsim: { synthetic: true, why: 'tool_completed without a tool_executing received before it' } } });
            emit(stream, r.t, { type: EventType.TOOL_CALL_END, toolCallId });
          }
          emit(stream, r.t, { type: EventType.TOOL_CALL_RESULT, messageId: `${ref}:result`, toolCallId, role: 'tool', content: `tool result ${ref} (seq ${r.seq}${r.redacted ? ', redacted' : ''}, payload hash ${r.receivedHash})`, rawEvent: raw(r) });
          break;
        }
        case 'agent_completed':
          emit(stream, r.t, { type: EventType.RUN_FINISHED, threadId: stream.thread, runId: r.run, rawEvent: raw(r) });
          stream.state = 'finished';
          break;
      }
    } else if (r.k === 'resync') {
      for (const stream of streams.values()) {
        if (stream.conn !== r.conn || stream.thread !== r.thread || stream.state !== 'running') continue;
        emit(stream, r.t, { type: EventType.CUSTOM, name: 'wsim.resync', value: { thread: r.thread, from: r.from, to: r.to, reason: r.reason } });
      }
    } else if (r.k === 'app_error' && r.dead) {
      const stream = streams.get(streamIdOf(r.conn, r.run)) ?? open(r.conn, r.run, r.thread, r.t, null);
      if (stream.state === 'running') {
        emit(stream, r.t, { type: EventType.CUSTOM, name: 'wsim.dead_letter', value: { run: r.run, idx: r.idx, seq: r.seq, attempts: r.attempt, message: r.message } });
      }
    }
  }

  const end = records.length > 0 ? records[records.length - 1]!.t : 0;
  for (const stream of streams.values()) {
    if (stream.state !== 'running') continue;
    emit(stream, Math.max(end, stream.last), {
      type: EventType.RUN_ERROR,
      code: 'wsim.incomplete',
      message: `the stream of ${stream.conn} ended without agent_completed of ${stream.run} (a gap: resync, dead letter, closed tab or unsubscribed thread)`,
    });
    stream.state = 'errored';
  }
  return lines;
}

/** Group lines by streamId, in order. */
export function streamsOf(lines: readonly AgUiLine[]): Map<string, AgUiEvent[]> {
  const streams = new Map<string, AgUiEvent[]>();
  for (const { streamId, ...event } of lines) {
    const list = streams.get(streamId) ?? [];
    if (!streams.has(streamId)) streams.set(streamId, list);
    list.push(event as AgUiEvent);
  }
  return streams;
}

/**
 * Every stream through @ag-ui/core's event schema and @ag-ui/client's
 * `verifyEvents` (an RxJS operator that errors on the first illegal event;
 * run here on a finite array), and each must end in RUN_FINISHED or RUN_ERROR.
 */
export async function verifyAgUi(lines: readonly AgUiLine[]): Promise<{ ok: boolean; errors: string[] }> {
  const errors: string[] = [];
  for (const line of lines) {
    if (typeof (line as { streamId?: unknown }).streamId !== 'string' || line.streamId === '') errors.push(`line without a streamId: ${JSON.stringify(line).slice(0, 120)}`);
  }
  for (const [id, events] of streamsOf(lines)) {
    for (const event of events) {
      const parsed = EventSchemas.safeParse(event);
      if (!parsed.success) errors.push(`${id}: ${event.type} does not match the schema: ${parsed.error.issues.map((i) => `${i.path.join('.')} ${i.message}`).join('; ')}`);
    }
    try {
      await lastValueFrom(from(events as BaseEvent[]).pipe(verifyEvents(false), toArray()));
    } catch (e) {
      errors.push(`${id}: ${e instanceof Error ? e.message : String(e)}`);
    }
    const last = events[events.length - 1];
    if (last && last.type !== EventType.RUN_FINISHED && last.type !== EventType.RUN_ERROR) errors.push(`${id}: ends with ${last.type}, not RUN_FINISHED or RUN_ERROR`);
  }
  return { ok: errors.length === 0, errors };
}

/** JSONL: one line per event. */
export const agUiJsonl = (lines: readonly AgUiLine[]): string => lines.map((l) => JSON.stringify(l)).join('\n') + (lines.length > 0 ? '\n' : '');
