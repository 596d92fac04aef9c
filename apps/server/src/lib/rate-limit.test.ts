import { describe, expect, it } from 'vitest';
import { MemoryRateLimitStore, RateLimiter } from './rate-limit.ts';

describe('RateLimiter', () => {
  it('allows the limit per window, refuses the next with a retry time, and resets with the window', async () => {
    let now = 1_000_000;
    const limiter = new RateLimiter(new MemoryRateLimitStore(), () => now);
    for (let i = 0; i < 3; i++) await limiter.consume('k', 3);
    await expect(limiter.consume('k', 3)).rejects.toMatchObject({
      code: 'RATE_LIMITED',
      details: { retryAfterSeconds: 60 },
    });
    now += 45_000;
    await expect(limiter.consume('k', 3)).rejects.toMatchObject({ details: { retryAfterSeconds: 15 } });
    await limiter.consume('other-key', 3);
    now += 15_000;
    await expect(limiter.consume('k', 3)).resolves.toBeUndefined();
  });

  it('treats a limit of 0 as off', async () => {
    const limiter = new RateLimiter(new MemoryRateLimitStore());
    for (let i = 0; i < 100; i++) await limiter.consume('k', 0);
  });
});
