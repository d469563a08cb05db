/**
 * The world's meter on the server's side of the wire: how often each event
 * sequence went out on each link (retransmissions), read from the full text of
 * every message (batches hold several events). Ground truth from the wire,
 * not a machine's own count.
 *
 * It reads the text the encoder writes (`"type"`, `"thread"`, `"seq"` in that
 * order) with one native search and one pass over each thread name: it runs on
 * every message the server sends, and a regular expression with captures
 * cost more than the rest of the meter. Counts are kept per link, per thread
 * name (as escaped on the wire), per sequence number: a number key, not a
 * joined string key, so counting a send builds no string but the thread's.
 */
/** Searched for once per message: the types a thread name may follow are checked behind it. */
const THREAD = '"thread":"';
const EVENT_TYPE = '"type":"event",';
const CHUNK_TYPE = '"type":"chunk",';
/** What follows a thread name's closing quote. */
const SEQ = '","seq":';
/** A chunked sequence is counted once, at its first chunk. */
const FIRST_CHUNK = ',"index":0,';

const BACKSLASH = 0x5c;
const QUOTE = 0x22;
const ZERO = 0x30;
const isDigit = (c: number): boolean => c >= ZERO && c <= 0x39;

/** Sends per sequence number, per thread name. */
type ThreadCounts = Map<string, Map<number, number>>;

export class WireMeter {
  /** Per link, per thread, sends per sequence. */
  private sends = new Map<string, ThreadCounts>();
  /** `thread\u0000seq` of every sequence that went out in chunks. */
  private chunked = new Set<string>();

  /**
   * One native search for `"thread":"` (a search per frame type was half the
   * meter's time); an event's own thread field, not preceded by a frame's
   * type, is passed over.
   */
  sent(link: string, data: string): void {
    for (let at = data.indexOf(THREAD); at !== -1; at = data.indexOf(THREAD, at + THREAD.length)) {
      const chunk = at >= CHUNK_TYPE.length && data.startsWith(CHUNK_TYPE, at - CHUNK_TYPE.length);
      if (chunk || (at >= EVENT_TYPE.length && data.startsWith(EVENT_TYPE, at - EVENT_TYPE.length))) this.countAt(link, data, at + THREAD.length, chunk);
    }
  }

  /** Count the sequence whose thread name starts at `from`, if the text there is one. */
  private countAt(link: string, data: string, from: number, chunk: boolean): void {
    let end = from;
    for (; end < data.length; end++) {
      const c = data.charCodeAt(end);
      if (c === BACKSLASH) end++;
      else if (c === QUOTE) break;
    }
    if (!data.startsWith(SEQ, end)) return;
    const digits = end + SEQ.length;
    let stop = digits;
    let seq = 0;
    // the encoder writes safe integers: the digits' value is exact
    for (; stop < data.length && isDigit(data.charCodeAt(stop)); stop++) seq = seq * 10 + (data.charCodeAt(stop) - ZERO);
    if (stop === digits || (chunk && !data.startsWith(FIRST_CHUNK, stop))) return;
    const thread = data.slice(from, end);
    if (chunk) this.chunked.add(`${thread}\u0000${seq}`);
    let threads = this.sends.get(link);
    if (threads === undefined) this.sends.set(link, (threads = new Map()));
    let counts = threads.get(thread);
    if (counts === undefined) threads.set(thread, (counts = new Map()));
    counts.set(seq, (counts.get(seq) ?? 0) + 1);
  }

  /** Sends beyond the first, over all (link, stream, seq). */
  retransmissions(): number {
    let n = 0;
    for (const count of this.counts()) n += count - 1;
    return n;
  }

  /** Distinct stream sequences that went out in chunks. */
  chunkedSeqs(): number {
    return this.chunked.size;
  }

  maxSendsPerSeq(): number {
    let max = 0;
    for (const count of this.counts()) max = Math.max(max, count);
    return max;
  }

  /** Every (link, thread, seq)'s number of sends. */
  private *counts(): Generator<number> {
    for (const threads of this.sends.values()) for (const counts of threads.values()) yield* counts.values();
  }
}
