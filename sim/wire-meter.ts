/**
 * The world's meter on the server's side of the wire: how often each event
 * sequence went out on each link (retransmissions), read from the full text of
 * every message (batches hold several events). Ground truth from the wire,
 * not a machine's own count.
 *
 * It reads the text the encoder writes (`"type"`, `"thread"`, `"seq"` in that
 * order) with native searches and one pass over each thread name: it runs on
 * every message the server sends, and a regular expression with captures
 * cost more than the rest of the meter.
 */
const EVENT_HEAD = '"type":"event","thread":"';
const CHUNK_HEAD = '"type":"chunk","thread":"';
/** What follows a thread name's closing quote. */
const SEQ = '","seq":';
/** A chunked sequence is counted once, at its first chunk. */
const FIRST_CHUNK = ',"index":0,';

const BACKSLASH = 0x5c;
const QUOTE = 0x22;
const isDigit = (c: number): boolean => c >= 0x30 && c <= 0x39;

/**
 * `thread\u0000seq` (the thread as escaped on the wire) of the sequence whose
 * thread name starts at `from`, or undefined if the text there is not one.
 */
function sequenceAt(data: string, from: number, chunk: boolean): string | undefined {
  let end = from;
  for (; end < data.length; end++) {
    const c = data.charCodeAt(end);
    if (c === BACKSLASH) end++;
    else if (c === QUOTE) break;
  }
  if (!data.startsWith(SEQ, end)) return undefined;
  const digits = end + SEQ.length;
  let stop = digits;
  while (stop < data.length && isDigit(data.charCodeAt(stop))) stop++;
  if (stop === digits || (chunk && !data.startsWith(FIRST_CHUNK, stop))) return undefined;
  return `${data.slice(from, end)}\u0000${data.slice(digits, stop)}`;
}

export class WireMeter {
  /** Per link, sends per `thread\u0000seq`. */
  private sends = new Map<string, Map<string, number>>();
  private chunked = new Set<string>();

  sent(link: string, data: string): void {
    this.scan(link, data, EVENT_HEAD, false);
    this.scan(link, data, CHUNK_HEAD, true);
  }

  private scan(link: string, data: string, head: string, chunk: boolean): void {
    for (let at = data.indexOf(head); at !== -1; at = data.indexOf(head, at + head.length)) {
      const sequence = sequenceAt(data, at + head.length, chunk);
      if (sequence === undefined) continue;
      if (chunk) this.chunked.add(sequence);
      let counts = this.sends.get(link);
      if (counts === undefined) this.sends.set(link, (counts = new Map()));
      counts.set(sequence, (counts.get(sequence) ?? 0) + 1);
    }
  }

  /** Sends beyond the first, over all (link, stream, seq). */
  retransmissions(): number {
    let n = 0;
    for (const counts of this.sends.values()) for (const count of counts.values()) n += count - 1;
    return n;
  }

  /** Distinct stream sequences that went out in chunks. */
  chunkedSeqs(): number {
    return this.chunked.size;
  }

  maxSendsPerSeq(): number {
    let max = 0;
    for (const counts of this.sends.values()) for (const count of counts.values()) max = Math.max(max, count);
    return max;
  }
}
