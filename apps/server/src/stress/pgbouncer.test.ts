import { createOrm, type MikroORM } from '@boxoffice/db';
import { createTestDatabase } from '@boxoffice/db/testing';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { type PgBouncer, pgbouncerBinary, startPgBouncer } from './pgbouncer.ts';

// The ORM's pool through a real pgbouncer in transaction pooling mode: what the stress run's second
// pass relies on. Needs Debian's pgbouncer (`bash scripts/setup.sh --pgbouncer`); skipped without it.

const STATEMENT_TIMEOUT_MS = 4321;
const IDLE_IN_TRANSACTION_TIMEOUT_MS = 2345;

describe.skipIf(!pgbouncerBinary())('the ORM behind pgbouncer (transaction pooling)', () => {
  let database: { url: string; drop: () => Promise<void> };
  let bouncer: PgBouncer;
  const orms: MikroORM[] = [];
  const ormThrough = async (transactionPooler: boolean, timeouts = true) => {
    const orm = await createOrm({
      url: bouncer.url,
      poolMax: 8,
      statementTimeoutMs: timeouts ? STATEMENT_TIMEOUT_MS : 0,
      idleInTransactionTimeoutMs: timeouts ? IDLE_IN_TRANSACTION_TIMEOUT_MS : 0,
      transactionPooler,
    });
    orms.push(orm);
    return orm;
  };
  beforeAll(async () => {
    database = await createTestDatabase(inject('databaseAdminUrl'));
    // two server connections for eight clients: consecutive transactions land on different sessions
    bouncer = await startPgBouncer(database.url, { poolSize: 2 });
  });
  afterAll(async () => {
    for (const orm of orms) await orm.close(true);
    await bouncer?.stop();
    await database?.drop();
  });

  it('every transaction runs with both timeouts, on whichever server connection it gets', async () => {
    const orm = await ormThrough(true);
    const seen = await Promise.all(
      Array.from({ length: 40 }, () =>
        orm.em.fork().transactional(async (em) => {
          const [row] = await em.execute<{ statement: string; idle: string; pid: number }[]>(
            `SELECT current_setting('statement_timeout') AS statement,
                    current_setting('idle_in_transaction_session_timeout') AS idle, pg_backend_pid() AS pid`,
          );
          return row;
        }),
      ),
    );
    expect(new Set(seen.map((row) => row?.statement))).toEqual(new Set(['4321ms']));
    expect(new Set(seen.map((row) => row?.idle))).toEqual(new Set(['2345ms']));
    // SET LOCAL ends with its transaction: the server connection is left as it was for others
    const [after] = await orm.em
      .fork()
      .execute<{ statement: string }[]>(`SELECT current_setting('statement_timeout') AS statement`);
    expect(after?.statement).toBe('0');
  });

  it('a stuck transaction is ended by the statement timeout', async () => {
    const orm = await ormThrough(true);
    const started = performance.now();
    await expect(orm.em.fork().transactional((em) => em.execute('SELECT pg_sleep(10)'))).rejects.toThrow(
      /statement timeout/,
    );
    expect(performance.now() - started).toBeLessThan(STATEMENT_TIMEOUT_MS + 2000);
  });

  const namedReads = async (orm: MikroORM) => {
    const pool = (await orm.em.getConnection().getNativeClient()) as unknown as pg.Pool;
    const results = await Promise.allSettled(
      Array.from({ length: 60 }, (_, i) =>
        pool.query({ name: 'stress_named_read', text: 'SELECT $1::int + 1 AS n', values: [i] }),
      ),
    );
    return results;
  };

  it('named statements go out unnamed, so they work from any server connection', async () => {
    const results = await namedReads(await ormThrough(true));
    expect(results.filter((result) => result.status === 'rejected')).toEqual([]);
  });

  it('(control) the direct client through the same pooler: its timeouts are refused at connect', async () => {
    const orm = await ormThrough(false);
    await expect(orm.em.fork().execute('SELECT 1')).rejects.toThrow(/unsupported startup parameter: statement_timeout/);
  });

  it('(control) the direct client without timeouts through the same pooler breaks on named statements', async () => {
    const results = await namedReads(await ormThrough(false, false));
    const failures = results.filter((result) => result.status === 'rejected');
    expect(failures.length).toBeGreaterThan(0);
    expect(String((failures[0] as PromiseRejectedResult).reason)).toMatch(/prepared statement/);
  });
});
