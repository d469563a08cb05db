/**
 * The frames a trace's wire records carry, decoded (a batch is opened into
 * its frames). Checks that judge what the server put on the wire read these;
 * only the records they ask for are parsed, so a check pays for what it reads.
 */
import type { RecordOf, TraceRecord } from './records.ts';

/** One frame as it went over the wire, with the record that carried it. */
export interface WireFrame {
  /** Index of the carrying record in the trace (frames of different kinds merge in this order). */
  at: number;
  t: number;
  link: string;
  dir: 'c2s' | 's2c';
  frame: { type: string; thread?: string; seq?: number; epoch?: string; session?: string; from?: number; reason?: string; resync?: { from: number; reason: string }; positions?: Record<string, number>; acks?: Record<string, number>; recovered?: boolean };
}

type WireKind = 'send' | 'deliver' | 'drop';

/**
 * The trace keeps only a frame's first 200 characters: a whole frame parses as
 * JSON; a clipped one (a big event, a batch) yields the headers that are
 * visible, which is where the fields checks read (type, thread, seq, resync)
 * sit, ahead of the event itself.
 */
function parse(text: string): WireFrame['frame'][] {
  try {
    const frame = JSON.parse(text) as WireFrame['frame'] & { frames?: WireFrame['frame'][] };
    return frame.type === 'batch' && Array.isArray(frame.frames) ? frame.frames : [frame];
  } catch {
    return text.split('{"v":1,"type":').slice(1).flatMap(header);
  }
}

/** The header fields of one clipped frame (its text after `"type":`), up to its event. */
function header(part: string): WireFrame['frame'][] {
  const head = part.split('"event":{')[0]!;
  const type = /^"(\w+)"/.exec(head)?.[1];
  if (!type || type === 'batch') return [];
  const thread = /"thread":"([^"]*)"/.exec(head)?.[1];
  const seq = /"seq":(\d+)/.exec(head)?.[1];
  // clipped before its header ended: whether it carried a resync is unknown, so it is not read
  if (type === 'event' && (seq === undefined || !(part.includes('"event":{') || part.endsWith('}') || part.endsWith('},')))) return [];
  const resync = /"resync":\{"from":(\d+),"reason":"(\w+)"/.exec(head);
  // a resync_required (or subscribed) names its own start; an event's from/reason sit in its resync
  const own = type === 'event' ? null : /"from":(\d+)(?:,"reason":"(\w+)")?/.exec(head);
  return [
    {
      type,
      ...(thread !== undefined ? { thread } : {}),
      ...(seq !== undefined ? { seq: Number(seq) } : {}),
      ...(resync ? { resync: { from: Number(resync[1]), reason: resync[2]! } } : {}),
      ...(own ? { from: Number(own[1]), ...(own[2] ? { reason: own[2] } : {}) } : {}),
    },
  ];
}

/** The frames of records of kind `k` whose text contains `hint` (a cheap prefilter) on links `keep` accepts, in trace order. */
export function wireFrames(records: readonly TraceRecord[], k: WireKind, hint: string, keep: (link: string) => boolean = () => true): WireFrame[] {
  const out: WireFrame[] = [];
  records.forEach((r, at) => {
    if (r.k !== k) return;
    const wire = r as RecordOf<WireKind>;
    if (!wire.frame.includes(hint) || !keep(wire.link)) return;
    for (const frame of parse(wire.frame)) out.push({ at, t: r.t, link: wire.link, dir: wire.dir, frame });
  });
  return out;
}

/** Merge frame lists into one, in trace order. */
export const inTraceOrder = (...lists: WireFrame[][]): WireFrame[] => lists.flat().sort((a, b) => a.at - b.at);

export const clientOfLink = (link: string): string => link.split('#')[0]!;
