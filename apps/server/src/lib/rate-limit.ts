import { DomainError } from '@boxoffice/contracts';
import type pg from 'pg';
import {
  type RateLimiterAbstract,
  RateLimiterMemory,
  RateLimiterPostgres,
  RateLimiterRes,
} from 'rate-limiter-flexible';

/** Created by migration 0008-rate-limits; the library is told not to create it. */
export const RATE_LIMIT_TABLE = 'rate_limits';
const KEY_PREFIX = 'rl';

/** What rate-limiter-flexible calls on a `storeType: 'pool'` client. */
type StoreClient = { query: (query: { text: string; values?: unknown[] }) => Promise<unknown> };
type Store = { kind: 'memory' } | { kind: 'postgres'; client: StoreClient };

/**
 * Fixed-window limits on rate-limiter-flexible. With the PostgreSQL store every instance counts
 * against the same rows, so a limit holds however many instances run. If the database cannot be
 * reached, each instance falls back to counting in its own memory (the library's insurance limiter)
 * rather than refusing everyone or letting everyone through.
 *
 * Limits are given per call, as `limit` per `windowMs`; a limit of 0 turns that check off.
 */
export class RateLimiter {
  private readonly store: Store;
  private readonly limiters = new Map<string, RateLimiterAbstract>();

  private constructor(store: Store) {
    this.store = store;
  }

  /** Counts in this process only: for tests and tools that run one instance. */
  static memory(): RateLimiter {
    return new RateLimiter({ kind: 'memory' });
  }

  /** Counts in the `rate_limits` table through `pool`, shared by every instance on the database. */
  static postgres(pool: Pick<pg.Pool, 'query'>): RateLimiter {
    // The library names its statements, which makes them server-side prepared statements; through
    // a transaction-pooling pgbouncer those break, so they go out unnamed.
    const client: StoreClient = { query: (query) => pool.query(query.text, query.values) };
    return new RateLimiter({ kind: 'postgres', client });
  }

  /** Counts one attempt under `key`; past `limit` in the window it throws RATE_LIMITED with a retry time. */
  async consume(key: string, limit: number, windowMs = 60_000): Promise<void> {
    if (limit <= 0) return;
    try {
      await this.limiter(limit, windowMs).consume(key);
    } catch (error) {
      if (!(error instanceof RateLimiterRes)) throw error;
      const retryAfterSeconds = Math.max(1, Math.ceil(error.msBeforeNext / 1000));
      throw new DomainError('RATE_LIMITED', `Too many attempts; retry in ${retryAfterSeconds}s`, { retryAfterSeconds });
    }
  }

  /** Gives back one attempt counted by `consume` with the same limit and window (it turned out fine). */
  async refund(key: string, limit: number, windowMs = 60_000): Promise<void> {
    if (limit <= 0) return;
    await this.limiter(limit, windowMs).reward(key, 1);
  }

  /** Forgets every attempt `consume` counted under `key` with the same limit and window. */
  async reset(key: string, limit: number, windowMs = 60_000): Promise<void> {
    if (limit <= 0) return;
    await this.limiter(limit, windowMs).delete(key);
  }

  private limiter(limit: number, windowMs: number): RateLimiterAbstract {
    const id = `${limit}/${windowMs}`;
    let limiter = this.limiters.get(id);
    if (!limiter) {
      const shape = { points: limit, duration: windowMs / 1000, keyPrefix: KEY_PREFIX };
      const memory = new RateLimiterMemory(shape);
      limiter =
        this.store.kind === 'memory'
          ? memory
          : new RateLimiterPostgres({
              ...shape,
              storeClient: this.store.client,
              storeType: 'pool',
              tableName: RATE_LIMIT_TABLE,
              tableCreated: true,
              // one limiter per store sweeps expired rows (every 5 minutes); they all share the table
              clearExpiredByTimeout: this.limiters.size === 0,
              insuranceLimiter: memory,
            });
      this.limiters.set(id, limiter);
    }
    return limiter;
  }
}
