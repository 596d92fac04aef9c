import { createHash } from 'node:crypto';
import { DomainError } from '@boxoffice/contracts';
import type { EntityManager } from '@boxoffice/db';

const KEY_TTL_MS = 24 * 60 * 60 * 1000;
/** A first request still "in flight" after this long died with its process; its key is free again. */
const IN_FLIGHT_LEASE_MS = 60 * 1000;

export type IdempotencyScope = { userId: string; scope: string; key: string; request: unknown; now: Date };

type KeyRow = {
  request_hash: string;
  state: 'in_flight' | 'completed';
  response: unknown;
  created_at: Date;
  expires_at: Date;
};

function hashRequest(request: unknown): string {
  return createHash('sha256').update(JSON.stringify(request)).digest('hex');
}

/**
 * Runs `work` once per (user, scope, key). A retry with the same input gets the first response;
 * the same key with different input is 422 IDEMPOTENCY_KEY_REUSED; a retry while the first is still
 * running is 409 IDEMPOTENCY_IN_FLIGHT. A failed first attempt frees the key so it can be retried.
 * Keys live 24 hours.
 */
export async function withIdempotency<T>(em: EntityManager, id: IdempotencyScope, work: () => Promise<T>): Promise<T> {
  const requestHash = hashRequest(id.request);
  const expiresAt = new Date(id.now.getTime() + KEY_TTL_MS);
  for (let attempt = 0; attempt < 2; attempt++) {
    // the primary key decides which of several concurrent requests runs the work
    const claimed = await em.execute(
      `INSERT INTO idempotency_keys (user_id, scope, key, request_hash, state, created_at, expires_at)
       VALUES (?, ?, ?, ?, 'in_flight', ?, ?) ON CONFLICT DO NOTHING RETURNING key`,
      [id.userId, id.scope, id.key, requestHash, id.now, expiresAt],
    );
    if (claimed.length > 0) break;
    const rows = await em.execute<KeyRow[]>(
      'SELECT request_hash, state, response, created_at, expires_at FROM idempotency_keys WHERE user_id = ? AND scope = ? AND key = ?',
      [id.userId, id.scope, id.key],
    );
    const row = rows[0];
    if (!row) continue;
    const abandoned =
      row.state === 'in_flight' && new Date(row.created_at).getTime() + IN_FLIGHT_LEASE_MS <= id.now.getTime();
    if (new Date(row.expires_at) <= id.now || abandoned) {
      // the conditions again in SQL: a concurrent retry may have claimed the key meanwhile
      await em.execute(
        `DELETE FROM idempotency_keys WHERE user_id = ? AND scope = ? AND key = ?
         AND (expires_at <= ? OR (state = 'in_flight' AND created_at <= ?))`,
        [id.userId, id.scope, id.key, id.now, new Date(id.now.getTime() - IN_FLIGHT_LEASE_MS)],
      );
      continue;
    }
    if (row.request_hash !== requestHash)
      throw new DomainError('IDEMPOTENCY_KEY_REUSED', 'This Idempotency-Key was used with a different request', {
        field: 'idempotencyKey',
      });
    if (row.state === 'in_flight')
      throw new DomainError('IDEMPOTENCY_IN_FLIGHT', 'A request with this Idempotency-Key is still being processed');
    return row.response as T;
  }
  try {
    const result = await work();
    await em.execute(
      `UPDATE idempotency_keys SET state = 'completed', response = ?::jsonb WHERE user_id = ? AND scope = ? AND key = ?`,
      [JSON.stringify(result), id.userId, id.scope, id.key],
    );
    return result;
  } catch (error) {
    await em.execute('DELETE FROM idempotency_keys WHERE user_id = ? AND scope = ? AND key = ?', [
      id.userId,
      id.scope,
      id.key,
    ]);
    throw error;
  }
}

/** Forgets keys past their 24 hours. */
export async function purgeExpiredIdempotencyKeys(em: EntityManager, now: Date): Promise<number> {
  const rows = await em.execute('DELETE FROM idempotency_keys WHERE expires_at <= ? RETURNING key', [now]);
  return rows.length;
}
