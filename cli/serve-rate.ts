/**
 * The publish budget of `wsim serve`: a token bucket counted in events (a
 * batch of 500 costs 500), so a runaway producer gets 429 instead of growing
 * every stream's log faster than clients can read it.
 */
export interface Rate {
  burst: number;
  perSecond: number;
}

export const DEFAULT_PUBLISH_RATE: Rate = { burst: 200_000, perSecond: 100_000 };

export class EventBudget {
  private tokens: number;
  private last = performance.now();

  constructor(private readonly rate: Rate) {
    this.tokens = rate.burst;
  }

  /** Spend `events` if the budget has them; false (and nothing spent) otherwise. */
  take(events: number): boolean {
    const now = performance.now();
    this.tokens = Math.min(this.rate.burst, this.tokens + ((now - this.last) * this.rate.perSecond) / 1000);
    this.last = now;
    if (this.tokens < events) return false;
    this.tokens -= events;
    return true;
  }
}
