import type { MikroORM } from '@mikro-orm/postgresql';
import { type Migration, migrations as shipped } from './migrations/index.ts';

// Any constant works; it only has to be the same for every instance of the server.
const MIGRATION_LOCK_KEY = 7_331_001;

/**
 * Applies the committed migrations that are not yet applied, each in its own transaction, so a
 * failing one leaves the ones before it applied. Each transaction takes an advisory lock and looks
 * again at what is applied, so concurrent starts of several instances apply each migration once.
 */
export async function migrate(orm: MikroORM, list: Migration[] = shipped): Promise<string[]> {
  const em = orm.em.fork();
  await em.transactional(async (tx) => {
    // under the lock too: two first starts at once would both try to create the table
    await tx.execute('SELECT pg_advisory_xact_lock(?)', [MIGRATION_LOCK_KEY]);
    await tx.execute(
      'CREATE TABLE IF NOT EXISTS schema_migrations (name text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())',
    );
  });
  const applied: string[] = [];
  for (const migration of list) {
    const ran = await em.transactional(async (tx) => {
      await tx.execute('SELECT pg_advisory_xact_lock(?)', [MIGRATION_LOCK_KEY]);
      const done = await tx.execute('SELECT 1 FROM schema_migrations WHERE name = ?', [migration.name]);
      if (done.length > 0) return false;
      await tx.execute(migration.sql);
      await tx.execute('INSERT INTO schema_migrations (name) VALUES (?)', [migration.name]);
      return true;
    });
    if (ran) applied.push(migration.name);
  }
  return applied;
}
