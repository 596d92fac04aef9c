import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { migrate } from './migrate.ts';
import { createOrm, type MikroORM } from './orm.ts';
import { createTestDatabase } from './testing.ts';

let orm: MikroORM;
let drop: () => Promise<void>;
beforeAll(async () => {
  const database = await createTestDatabase(inject('databaseAdminUrl'));
  drop = database.drop;
  orm = await createOrm({ url: database.url, poolMax: 4 });
});
afterAll(async () => {
  await orm?.close(true);
  await drop?.();
});

const applied = async () =>
  (await orm.em.fork().execute<{ name: string }[]>("SELECT name FROM schema_migrations WHERE name LIKE 'test-%'")).map(
    (row) => row.name,
  );

describe('the migrator', () => {
  it('applies each migration in its own transaction: a failing one keeps those before it', async () => {
    const list = [
      { name: 'test-1-table', sql: 'CREATE TABLE migrate_probe (id int PRIMARY KEY)' },
      { name: 'test-2-broken', sql: 'ALTER TABLE migrate_probe ADD COLUMN x int; SELECT no_such_function()' },
    ];
    await expect(migrate(orm, list)).rejects.toThrow(/no_such_function/);
    expect(await applied()).toEqual(['test-1-table']);
    // the broken one rolled back whole: its first statement left nothing behind
    const columns = await orm.em
      .fork()
      .execute<{ column_name: string }[]>(
        "SELECT column_name FROM information_schema.columns WHERE table_name = 'migrate_probe'",
      );
    expect(columns.map((c) => c.column_name)).toEqual(['id']);
  });

  it('applies a migration once when several instances start at the same time', async () => {
    const list = [{ name: 'test-3-counter', sql: 'INSERT INTO migrate_probe (id) VALUES (3)' }];
    const results = await Promise.all([migrate(orm, list), migrate(orm, list), migrate(orm, list)]);
    expect(results.flat()).toEqual(['test-3-counter']);
    const rows = await orm.em.fork().execute<{ n: number }[]>('SELECT count(*)::int AS n FROM migrate_probe');
    expect(rows[0]?.n).toBe(1);
  });
});
