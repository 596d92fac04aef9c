import type { MikroORM } from '@mikro-orm/postgresql';
import { type Migration, migrations as shipped } from './migrations/index.ts';

// Any constant works; it only has to be the same for every instance of the server.
const MIGRATION_LOCK_KEY = 7_331_001;

/**
 * Applies the committed migrations that are not yet applied, each in its own transaction.
 * An advisory lock makes concurrent starts of several instances apply each migration once.
 */
export async function migrate(orm: MikroORM, list: Migration[] = shipped): Promise<string[]> {
  const em = orm.em.fork();
  const applied: string[] = [];
  await em.transactional(async (tx) => {
    await tx.execute('SELECT pg_advisory_xact_lock(?)', [MIGRATION_LOCK_KEY]);
    await tx.execute(
      'CREATE TABLE IF NOT EXISTS schema_migrations (name text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())',
    );
    const rows = await tx.execute<{ name: string }[]>('SELECT name FROM schema_migrations');
    const done = new Set(rows.map((row) => row.name));
    for (const migration of list) {
      if (done.has(migration.name)) continue;
      await tx.execute(migration.sql);
      await tx.execute('INSERT INTO schema_migrations (name) VALUES (?)', [migration.name]);
      applied.push(migration.name);
    }
  });
  return applied;
}
