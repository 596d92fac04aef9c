import { MikroORM } from '@mikro-orm/postgresql';
import { entities } from './entities/index.ts';

export type OrmOptions = { url: string; poolMax?: number; debug?: boolean };

/** One ORM per process; each request works on its own `orm.em.fork()`. */
export async function createOrm({ url, poolMax = 10, debug = false }: OrmOptions): Promise<MikroORM> {
  return MikroORM.init({
    clientUrl: url,
    entities,
    debug,
    pool: { min: 0, max: poolMax },
    // the schema is owned by the SQL migrations, not derived from entities
    ensureDatabase: false,
    allowGlobalContext: false,
  });
}

export type { EntityManager } from '@mikro-orm/postgresql';
export { MikroORM } from '@mikro-orm/postgresql';
