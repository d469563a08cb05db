/**
 * The hub's routing index: stream key → the connections subscribed to it.
 * Publishing looks up one key, so routing costs O(subscribers of the stream),
 * never O(all sessions).
 */
export class SubscriberIndex {
  private byKey = new Map<string, Set<string>>();

  add(key: string, connId: string): void {
    let set = this.byKey.get(key);
    if (!set) this.byKey.set(key, (set = new Set()));
    set.add(connId);
  }

  remove(key: string, connId: string): void {
    const set = this.byKey.get(key);
    if (!set) return;
    set.delete(connId);
    if (set.size === 0) this.byKey.delete(key);
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
