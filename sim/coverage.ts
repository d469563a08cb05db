/**
 * Coverage signals, Antithesis' "sometimes" assertions: the conditions a
 * scenario exists to reach. A scenario that passes without ever reaching its
 * conditions has proved nothing about them, so the spec counts, over the
 * scenario's default runs, how often each was reached and fails when one
 * never was. Each signal reads the trace alone, like the oracle.
 */
import { gauge } from './checks.ts';
import type { RecordOf, TraceRecord } from './records.ts';
import type { CheckContext } from './scenario.ts';
import { clientOfLink, wireFrames, type WireFrame } from './wire-frames.ts';

export interface Sometimes {
  name: string;
  reached: (records: readonly TraceRecord[], ctx: CheckContext) => boolean;
}

const only = <K extends TraceRecord['k']>(records: readonly TraceRecord[], k: K): RecordOf<K>[] => records.filter((r): r is RecordOf<K> => r.k === k);
const signal = (name: string, reached: Sometimes['reached']): Sometimes => ({ name, reached });
const any = (name: string, pred: (r: TraceRecord) => boolean): Sometimes => signal(name, (records) => records.some(pred));

// ---- the wire: resyncs and resumes ---------------------------------------------

const asks = (records: readonly TraceRecord[]) => wireFrames(records, 'deliver', '"type":"resume"').concat(wireFrames(records, 'deliver', '"type":"subscribe"')).filter((f) => f.dir === 'c2s');
const beyondWindow = (records: readonly TraceRecord[]) => wireFrames(records, 'send', 'beyond_window').filter((f) => f.frame.type === 'resync_required' && f.frame.reason === 'beyond_window');
/** The resync answers a resume or subscribe the server had just then (same link, same instant). */
const answersAsk = (resync: WireFrame, all: WireFrame[]) => all.some((a) => a.link === resync.link && a.t === resync.t && a.at < resync.at);

export const resumeBehindEvictedLog = signal('resume behind an evicted log', (records) => {
  const all = asks(records);
  return beyondWindow(records).some((r) => answersAsk(r, all));
});

export const evictedBeforeSent = signal('entry evicted before it was sent', (records) => {
  const all = asks(records);
  return beyondWindow(records).some((r) => !answersAsk(r, all));
});

export const lostResyncRepeated = signal('lost resync repeated on an event frame', (records) => {
  const lost = only(records, 'drop').filter((d) => d.dir === 's2c' && d.frame.includes('resync_required'));
  if (lost.length === 0) return false;
  const repeats = wireFrames(records, 'send', '"resync":{').filter((f) => f.frame.type === 'event' && f.frame.resync);
  return lost.some((d) => repeats.some((f) => f.link === d.link && f.t >= d.t));
});

export const epochChangeResync = any('epoch change resync', (r) => r.k === 'resync' && r.reason === 'epoch_changed');

/**
 * A resume (or subscribe) whose position sits `offset` from the start of a log
 * that has already evicted entries: -1 is one before the window (a resync of
 * one event), 0 exactly at it, +1 one after. The log's start is rebuilt from
 * what was produced on the stream in the current epoch and the log's capacity.
 */
export const resumeAtWindowEdge = (offset: -1 | 0 | 1): Sometimes =>
  signal(`resume ${offset < 0 ? 'one before' : offset > 0 ? 'one after' : 'exactly at'} the window's start`, (records, { logCapacity }) => {
    const owner = new Map(only(records, 'conn').map((c) => [c.conn, c]));
    const wanted = new Map<number, { stream: string; from: number; epoch: string | undefined }[]>(); // record index → positions asked there
    for (const a of asks(records)) {
      const who = owner.get(clientOfLink(a.link));
      if (!who) continue;
      const positions = a.frame.type === 'resume' ? Object.entries(a.frame.positions ?? {}) : [[a.frame.thread!, a.frame.from ?? 1] as const];
      wanted.set(a.at, positions.map(([thread, from]) => ({ stream: `${who.tenant}\u0000${who.user}\u0000${thread}`, from: Number(from), epoch: a.frame.epoch })));
    }
    const heads = new Map<string, number>();
    let epoch = 'e1';
    for (let i = 0; i < records.length; i++) {
      const r = records[i]!;
      if (r.k === 'fault' && r.fault === 'restart' && r.detail?.startsWith('epoch ')) {
        heads.clear();
        epoch = r.detail.slice('epoch '.length);
      }
      else if (r.k === 'produce') heads.set(`${r.tenant}\u0000${r.user}\u0000${r.thread}`, (heads.get(`${r.tenant}\u0000${r.user}\u0000${r.thread}`) ?? 0) + 1);
      for (const { stream, from, epoch: asked } of wanted.get(i) ?? []) {
        if (asked !== undefined && asked !== epoch) continue; // a position in an older epoch: answered by an epoch change
        const head = heads.get(stream) ?? 0;
        if (head > logCapacity && from - (head - logCapacity + 1) === offset) return true;
      }
    }
    return false;
  });

// ---- connections ---------------------------------------------------------------

const linkOpens = (records: readonly TraceRecord[]) => {
  const n = new Map<string, number>();
  for (const r of only(records, 'link')) if (r.event === 'open') n.set(clientOfLink(r.link), (n.get(clientOfLink(r.link)) ?? 0) + 1);
  return n;
};

export const reconnected = signal('a tab reconnected', (records) => [...linkOpens(records).values()].some((n) => n > 1));

/** One tab reconnected more often than its attempt budget and never gave up: the counter resets on success. */
export const outlivedMaxAttempts = signal('a tab reconnected more often than max attempts', (records, { client }) => {
  const failed = new Set(only(records, 'transition').filter((t) => t.to === 'failed').map((t) => t.actor));
  return [...linkOpens(records)].some(([tab, n]) => n - 1 > client.maxAttempts && !failed.has(tab));
});

export const backoffAfterSuccess = signal('reconnect after a successful connection', (records) => {
  const seen = new Map<string, number>();
  for (const t of only(records, 'transition')) if (t.to === 'reconnecting' && t.from.startsWith('open')) seen.set(t.actor, (seen.get(t.actor) ?? 0) + 1);
  return [...seen.values()].some((n) => n >= 2);
});

/** The server sent a link an event the tab had already had on an earlier link (its ack was lost): dedup at work. */
export const duplicateAfterResume = signal('a duplicate after resume', (records) => {
  const best = new Map<string, number>(); // tab|thread → highest seq delivered on earlier links
  const linkBest = new Map<string, number>();
  const linkOf = new Map<string, string>(); // tab → current link
  for (const f of wireFrames(records, 'deliver', '"type":"event"').filter((x) => x.dir === 's2c' && x.frame.type === 'event')) {
    const tab = clientOfLink(f.link);
    const key = `${tab}\u0000${f.frame.thread}`;
    if (linkOf.get(tab) !== f.link) {
      for (const [k, v] of linkBest) if (k.startsWith(`${tab}\u0000`)) best.set(k, Math.max(best.get(k) ?? 0, v));
      linkOf.set(tab, f.link);
    }
    if (f.frame.seq! <= (best.get(key) ?? 0)) return true;
    linkBest.set(key, Math.max(linkBest.get(key) ?? 0, f.frame.seq!));
  }
  return false;
});

export const heartbeatTimeout = any('a silent link closed by the heartbeat', (r) => r.k === 'link' && r.event === 'close' && r.code === 4000);
export const gaveUp = any('a tab gave up (failed)', (r) => r.k === 'transition' && r.to === 'failed');
export const tabClosedMidRun = any('a tab closed for good mid-run', (r) => r.k === 'transition' && r.to === 'closed' && r.actor.includes('/') && !r.actor.includes('#'));
export const shed = any('a slow consumer shed with 1013', (r) => r.k === 'link' && r.event === 'close' && r.code === 1013);
export const ackTimeout = any('an ack timeout closed a link (4001)', (r) => r.k === 'link' && r.event === 'close' && r.code === 4001);

// ---- delivery ------------------------------------------------------------------

export const retransmitted = signal('a frame retransmitted', (records) => (gauge(records, 'wire.retransmissions') ?? 0) > 0);
export const eventFrameLost = any('an event frame lost', (r) => r.k === 'drop' && r.dir === 's2c' && r.frame.includes('"type":"event"'));
export const ackLost = any('an ack lost', (r) => r.k === 'drop' && r.dir === 'c2s' && r.frame.includes('"type":"ack"'));
export const eventFrameDuplicated = any('an event frame duplicated', (r) => r.k === 'dup' && r.dir === 's2c' && r.frame.includes('"type":"event"'));
export const frameReordered = any('a frame reordered', (r) => r.k === 'fault' && r.fault === 'reorder');
export const coalesced = any('thinking events coalesced', (r) => r.k === 'send' && r.dir === 's2c' && r.frame.includes('"through":'));
export const deadLetter = any('a poison event dead-lettered', (r) => r.k === 'app_error' && r.dead);
export const appRetried = any('an app failure retried', (r) => r.k === 'app_error' && !r.dead);
export const fuzzRejected = any('a fuzzed frame rejected', (r) => r.k === 'reject' && r.side === 'server');
export const resumeRecovered = any('a resume recovered from the replay log', (r) => r.k === 'send' && r.dir === 's2c' && r.frame.includes('"recovered":true'));

export const logEvicted = signal('a replay log evicted entries', (records, { logCapacity }) => {
  const n = new Map<string, number>();
  for (const p of only(records, 'produce')) n.set(`${p.tenant}/${p.user}/${p.thread}`, (n.get(`${p.tenant}/${p.user}/${p.thread}`) ?? 0) + 1);
  return [...n.values()].some((k) => k > logCapacity);
});

export const bigPayload = (chunks: number): Sometimes =>
  signal(`a payload of ≥ ${chunks} chunks delivered`, (records, { session }) => {
    const big = new Set(only(records, 'produce').filter((p) => p.bytes >= chunks * session.maxFrameBytes).map((p) => `${p.run}#${p.idx}`));
    return only(records, 'app').some((a) => big.has(`${a.run}#${a.idx}`));
  });

// ---- routing -------------------------------------------------------------------

/** A role changed while one of the user's tabs was between two connections. */
export const roleChangeBetweenConnections = signal('a role change between connections', (records) => {
  const open = new Map<string, number>(); // tab → links open
  const everOpen = new Set<string>();
  const owner = new Map(only(records, 'conn').map((c) => [c.conn, `${c.tenant}/${c.user}`]));
  const offline = new Map<string, string>(); // tab → owner, for tabs between connections
  const changedWhileOff = new Set<string>();
  for (const r of records) {
    if (r.k === 'link' && !r.link.startsWith('rogue')) {
      const tab = clientOfLink(r.link);
      const n = (open.get(tab) ?? 0) + (r.event === 'open' ? 1 : -1);
      open.set(tab, n);
      if (r.event === 'open') {
        everOpen.add(tab);
        if (changedWhileOff.has(tab)) return true;
        offline.delete(tab);
      } else if (n <= 0 && everOpen.has(tab)) offline.set(tab, owner.get(tab) ?? '');
    } else if (r.k === 'role') {
      for (const [tab, who] of offline) if (who === `${r.tenant}/${r.user}`) changedWhileOff.add(tab);
    }
  }
  return false;
});

/** A tab unsubscribed a thread while its events were flowing (one within 300 ms either side). */
export const unsubscribeDuringBurst = signal('an unsubscribe during a burst', (records) => {
  const owner = new Map(only(records, 'conn').map((c) => [c.conn, `${c.tenant}/${c.user}`]));
  const produced = only(records, 'produce');
  return only(records, 'subscribe').some((s) => !s.on && s.t > 0 && produced.some((p) => `${p.tenant}/${p.user}` === owner.get(s.conn) && p.thread === s.thread && Math.abs(p.t - s.t) <= 300));
});

export const roleDowngrade = signal('a role downgrade', (records) => {
  const rank = { viewer: 0, analyst: 1, admin: 2 } as const;
  const current = new Map(only(records, 'conn').map((c) => [`${c.tenant}/${c.user}`, c.role]));
  for (const r of only(records, 'role')) {
    const before = current.get(`${r.tenant}/${r.user}`);
    current.set(`${r.tenant}/${r.user}`, r.role);
    if (before && rank[r.role] < rank[before]) return true;
  }
  return false;
});

export const delivered = signal('events delivered', (records) => records.some((r) => r.k === 'app'));

/** How often each declared condition was reached in one run. */
export function reachedIn(signals: readonly Sometimes[], records: readonly TraceRecord[], ctx: CheckContext): string[] {
  return signals.filter((s) => s.reached(records, ctx)).map((s) => s.name);
}
