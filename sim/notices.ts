/**
 * What a tab was explicitly told it would not get, and exactly which events
 * that covers. A resync names a range of sequence numbers of one stream in one
 * server epoch; a dead letter names one event. A missing event is excused only
 * by a notice to that tab that covers its own sequence number: one resync must
 * never excuse every earlier loss on its thread.
 *
 * Sequence numbers are reconstructed from the trace alone (the oracle never
 * reads a machine): the server numbers each stream (tenant, user, thread)
 * 1, 2, 3, ... in publish order, and a restarted server (a new epoch, written
 * by the world as `fault: restart, detail: epoch eN`) numbers afresh.
 */
import type { RecordOf, TraceRecord } from './records.ts';

/** Where a produced event sits in its stream: the server epoch (0 = first) and its sequence there. */
export interface Position {
  epoch: number;
  seq: number;
}

interface Notice {
  t: number;
  /** Epoch current when the tab heard it. */
  epoch: number;
  /** The epoch the tab's cursor referred to before (an epoch change covers the tail of that one and every epoch between). */
  before: number;
  from: number;
  to: number;
  reason: string;
}

/** Which excuse rule the oracle applies: `exact` (the rule), or `any-resync` (the old, too-wide one, kept to prove the difference). */
export type ExcuseRule = 'exact' | 'any-resync';

const streamOf = (tenant: string, user: string, thread: string) => `${tenant}\u0000${user}\u0000${thread}`;
const tabThread = (conn: string, thread: string) => `${conn}\u0000${thread}`;
/**
 * The epoch a fault record starts, if it starts one: a server restart names it
 * (`epoch eN`); a clustered store that comes back empty (`broker:restart`,
 * `empty`) starts the next one, its streams numbered afresh from 1.
 */
const restartEpoch = (r: TraceRecord, current: number): number | undefined => {
  if (r.k !== 'fault') return undefined;
  if (r.fault === 'broker:restart') return r.detail === 'empty' ? current + 1 : undefined;
  if (r.fault !== 'restart') return undefined;
  const m = /^epoch e(\d+)$/.exec(r.detail ?? '');
  return m ? Number(m[1]) - 1 : undefined;
};

export class Notices {
  private positions = new Map<RecordOf<'produce'>, Position>();
  private byTab = new Map<string, Notice[]>();
  private dead = new Map<string, number>();
  private resyncTimes = new Map<string, number[]>();

  constructor(records: readonly TraceRecord[]) {
    let epoch = 0;
    const heads = new Map<string, number>();
    const seen = new Map<string, number>(); // conn|thread → epoch of the last event or rebase it heard
    const produced = new Map<string, Position>(); // tenant|user|run|idx → position
    for (const r of records) {
      const next = restartEpoch(r, epoch);
      if (next !== undefined) {
        epoch = next;
        heads.clear();
        continue;
      }
      if (r.k === 'produce') {
        const key = streamOf(r.tenant, r.user, r.thread);
        const seq = (heads.get(key) ?? 0) + 1;
        heads.set(key, seq);
        const position = { epoch, seq };
        this.positions.set(r, position);
        produced.set(`${r.tenant}\u0000${r.user}\u0000${r.run}\u0000${r.idx}`, position);
      } else if (r.k === 'app') {
        const at = produced.get(`${r.tenant}\u0000${r.user}\u0000${r.run}\u0000${r.idx}`);
        if (at) seen.set(tabThread(r.conn, r.thread), Math.max(seen.get(tabThread(r.conn, r.thread)) ?? 0, at.epoch));
      } else if (r.k === 'resync') {
        const key = tabThread(r.conn, r.thread);
        const list = this.byTab.get(key) ?? [];
        if (!this.byTab.has(key)) this.byTab.set(key, list);
        list.push({ t: r.t, epoch, before: seen.get(key) ?? 0, from: r.from, to: r.to, reason: r.reason });
        if (r.reason === 'epoch_changed') seen.set(key, epoch);
        const times = this.resyncTimes.get(key) ?? [];
        if (!this.resyncTimes.has(key)) this.resyncTimes.set(key, times);
        times.push(r.t);
      } else if (r.k === 'app_error' && r.dead) {
        const key = `${r.conn}\u0000${r.run}\u0000${r.idx}`;
        if (!this.dead.has(key)) this.dead.set(key, r.t);
      }
    }
  }

  /** The position the server gave a produced event (reconstructed from the trace). */
  positionOf(e: RecordOf<'produce'>): Position | undefined {
    return this.positions.get(e);
  }

  /** When `conn` was told it will not get `e`, by `rule`; undefined if never. */
  toldAt(conn: string, e: RecordOf<'produce'>, rule: ExcuseRule = 'exact'): number | undefined {
    const dead = this.dead.get(`${conn}\u0000${e.run}\u0000${e.idx}`);
    if (rule === 'any-resync') {
      const resync = (this.resyncTimes.get(tabThread(conn, e.thread)) ?? []).find((t) => t >= e.t);
      return resync ?? dead;
    }
    const at = this.positions.get(e);
    if (!at) return dead;
    const resync = (this.byTab.get(tabThread(conn, e.thread)) ?? []).find((n) => covers(n, at));
    return resync === undefined ? dead : dead === undefined ? resync.t : Math.min(dead, resync.t);
  }
}

/**
 * Does one notice cover this position? A resync within an epoch covers
 * [from, to). An epoch change also covers the tail (≥ from) of the epoch the
 * cursor was in, every epoch between, and the head (< to) of the new one.
 */
function covers(n: Notice, at: Position): boolean {
  if (at.epoch > n.epoch) return false;
  // a resync heard just after a restart may still speak of the epoch before it (the frame was on the wire)
  if (at.seq >= n.from && at.seq < n.to && at.epoch >= n.epoch - 1) return true;
  if (n.reason !== 'epoch_changed') return false;
  if (at.epoch === n.epoch) return at.seq < n.to;
  return at.epoch > n.before || at.seq >= n.from;
}
