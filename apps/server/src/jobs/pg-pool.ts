import pg from 'pg';
import type { Logger } from '../logger.ts';

/**
 * graphile-worker's connections. A connection lost while idle or in use is reported, not thrown
 * (pg raises the error on the next query, and drops the client from the pool).
 */
export function jobQueuePool(config: pg.PoolConfig, log: Logger): pg.Pool {
  const pool = new pg.Pool(config);
  const report = (error: Error) => log.warn({ err: error }, 'job queue connection failed');
  pool.on('error', report);
  pool.on('connect', (client) => client.on('error', report));
  return pool;
}
