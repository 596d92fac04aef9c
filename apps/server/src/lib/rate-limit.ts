import { DomainError } from '@boxoffice/contracts';

/**
 * Where counters live. The default is this process's memory; several instances share limits by
 * plugging in a store backed by something they all reach (Redis, PostgreSQL).
 */
export type RateLimitStore = {
  increment(key: string, windowMs: number, nowMs: number): Promise<{ count: number; resetAtMs: number }>;
};

export class MemoryRateLimitStore implements RateLimitStore {
  private readonly windows = new Map<string, { count: number; resetAtMs: number }>();

  async increment(key: string, windowMs: number, nowMs: number) {
    let window = this.windows.get(key);
    if (!window || window.resetAtMs <= nowMs) {
      window = { count: 0, resetAtMs: nowMs + windowMs };
      this.windows.set(key, window);
      if (this.windows.size > 50_000) this.sweep(nowMs);
    }
    window.count += 1;
    return { ...window };
  }

  private sweep(nowMs: number) {
    for (const [key, window] of this.windows) if (window.resetAtMs <= nowMs) this.windows.delete(key);
  }
}

export class RateLimiter {
  private readonly store: RateLimitStore;
  private readonly now: () => number;
  constructor(store: RateLimitStore, now: () => number = Date.now) {
    this.store = store;
    this.now = now;
  }

  /** Counts one attempt under `key`; over `limit` per minute throws RATE_LIMITED. A limit of 0 is off. */
  async consume(key: string, limit: number, windowMs = 60_000): Promise<void> {
    if (limit <= 0) return;
    const nowMs = this.now();
    const { count, resetAtMs } = await this.store.increment(key, windowMs, nowMs);
    if (count > limit) {
      const retryAfterSeconds = Math.max(1, Math.ceil((resetAtMs - nowMs) / 1000));
      throw new DomainError('RATE_LIMITED', `Too many attempts; retry in ${retryAfterSeconds}s`, { retryAfterSeconds });
    }
  }
}
