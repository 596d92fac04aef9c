import { createTestDatabase } from '@boxoffice/db/testing';
import pg from 'pg';
import { afterAll, afterEach, beforeAll, describe, expect, inject, it, vi } from 'vitest';
import { RATE_LIMIT_TABLE, RateLimiter } from './rate-limit.ts';

const refused = (retryAfterSeconds?: number) => ({
  code: 'RATE_LIMITED',
  details: retryAfterSeconds === undefined ? { retryAfterSeconds: expect.any(Number) } : { retryAfterSeconds },
});

describe('RateLimiter (memory)', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('allows the limit per window, refuses the next with a retry time, and resets with the window', async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(1_000_000);
    const limiter = RateLimiter.memory();
    for (let i = 0; i < 3; i++) await limiter.consume('k', 3);
    await expect(limiter.consume('k', 3)).rejects.toMatchObject(refused(60));
    vi.setSystemTime(1_045_000);
    await expect(limiter.consume('k', 3)).rejects.toMatchObject(refused(15));
    await expect(limiter.consume('other-key', 3)).resolves.toBeUndefined();
    vi.setSystemTime(1_060_000);
    await expect(limiter.consume('k', 3)).resolves.toBeUndefined();
  });

  it('treats a limit of 0 as off', async () => {
    const limiter = RateLimiter.memory();
    const results = await Promise.allSettled(Array.from({ length: 100 }, () => limiter.consume('k', 0)));
    expect(results.filter((r) => r.status === 'rejected')).toHaveLength(0);
  });

  it('refund gives one attempt back; reset forgets them all', async () => {
    const limiter = RateLimiter.memory();
    await limiter.consume('k', 2);
    await limiter.consume('k', 2);
    await limiter.refund('k', 2);
    await expect(limiter.consume('k', 2)).resolves.toBeUndefined();
    await expect(limiter.consume('k', 2)).rejects.toMatchObject(refused());
    await limiter.reset('k', 2);
    await expect(limiter.consume('k', 2)).resolves.toBeUndefined();
  });
});

describe('RateLimiter (PostgreSQL)', () => {
  let database: { url: string; drop: () => Promise<void> };
  const pools: pg.Pool[] = [];
  const pool = () => {
    const created = new pg.Pool({ connectionString: database.url, max: 3 });
    pools.push(created);
    return created;
  };
  beforeAll(async () => {
    database = await createTestDatabase(inject('databaseAdminUrl'));
  });
  afterAll(async () => {
    await Promise.all(pools.map((p) => p.end()));
    await database?.drop();
  });

  it('two instances on one database count against one limit', async () => {
    const first = RateLimiter.postgres(pool());
    const second = RateLimiter.postgres(pool());
    await first.consume('shared', 3);
    await second.consume('shared', 3);
    await first.consume('shared', 3);
    await expect(second.consume('shared', 3)).rejects.toMatchObject(refused(60));
    await expect(first.consume('shared', 3)).rejects.toMatchObject(refused());
    const rows = await pools[0]?.query(`SELECT key, points FROM ${RATE_LIMIT_TABLE} WHERE key LIKE '%shared'`);
    expect(rows?.rows).toEqual([{ key: 'rl:shared', points: 5 }]);
  });

  it('lets exactly the limit through when attempts race on both instances', async () => {
    const instances = [RateLimiter.postgres(pool()), RateLimiter.postgres(pool())];
    const results = await Promise.allSettled(
      Array.from({ length: 20 }, (_, i) => instances[i % 2]?.consume('race', 5)),
    );
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(5);
  });

  it('refund and reset reach the shared counter', async () => {
    const first = RateLimiter.postgres(pool());
    const second = RateLimiter.postgres(pool());
    await first.consume('k', 1);
    await second.refund('k', 1);
    await expect(first.consume('k', 1)).resolves.toBeUndefined();
    await expect(second.consume('k', 1)).rejects.toMatchObject(refused());
    await second.reset('k', 1);
    await expect(first.consume('k', 1)).resolves.toBeUndefined();
  });

  it('still limits, per instance, when the database cannot be reached', async () => {
    const unreachable = new pg.Pool({ connectionString: 'postgres://nobody@127.0.0.1:1/none', max: 1 });
    pools.push(unreachable);
    const limiter = RateLimiter.postgres(unreachable);
    await limiter.consume('k', 2);
    await limiter.consume('k', 2);
    await expect(limiter.consume('k', 2)).rejects.toMatchObject(refused());
  });
});
