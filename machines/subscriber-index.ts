/**
 * The hub's routing index: stream key → the connections subscribed to it.
 * Publishing looks up one key, so routing costs O(subscribers of the stream),
 * never O(all sessions).
 *
 * Most streams have one subscriber (a user's own thread, one tab): such a key
 * holds a one-member set of its own (one small object) instead of a Set,
 * whose hash table is most of an idle stream's routing entry.
 */
export class SubscriberIndex {
  private byKey = new Map<string, Only | Set<string>>();

  add(key: string, connId: string): void {
    const set = this.byKey.get(key);
    if (!set) this.byKey.set(key, new Only(connId));
    else if (set instanceof Set) set.add(connId);
    else if (!set.has(connId)) this.byKey.set(key, new Set([set.connId, connId]));
  }

  remove(key: string, connId: string): void {
    const set = this.byKey.get(key);
    if (!set?.has(connId)) return;
    if (set.size === 1) this.byKey.delete(key);
    else (set as Set<string>).delete(connId);
  }

  subscribers(key: string): ReadonlySet<string> {
    return this.byKey.get(key) ?? EMPTY;
  }

  /** Number of keys with subscribers (for leak checks: 0 when everyone left). */
  get size(): number {
    return this.byKey.size;
  }
}

const EMPTY: ReadonlySet<string> = new Set();

/** A key's only subscriber, as a read-only set. */
class Only implements ReadonlySet<string> {
  constructor(readonly connId: string) {}

  get size(): number {
    return 1;
  }

  has(connId: string): boolean {
    return connId === this.connId;
  }

  forEach(callback: (value: string, key: string, set: ReadonlySet<string>) => void, thisArg?: unknown): void {
    callback.call(thisArg, this.connId, this.connId, this);
  }

  [Symbol.iterator](): SetIterator<string> {
    return this.values();
  }

  values(): SetIterator<string> {
    return [this.connId].values();
  }

  keys(): SetIterator<string> {
    return this.values();
  }

  entries(): SetIterator<[string, string]> {
    return [[this.connId, this.connId] as [string, string]].values();
  }
}
