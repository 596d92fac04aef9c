import { MikroORM } from '@mikro-orm/postgresql';
import pg from 'pg';
import { entities } from './entities/index.ts';

export type OrmOptions = {
  url: string;
  poolMax?: number;
  debug?: boolean;
  /** How long a caller waits for a free pool connection before the query fails; 0 waits forever. */
  acquireTimeoutMs?: number;
  /** PostgreSQL's statement_timeout for every session; 0 turns it off. */
  statementTimeoutMs?: number;
  /** PostgreSQL's idle_in_transaction_session_timeout for every session; 0 turns it off. */
  idleInTransactionTimeoutMs?: number;
};

type Release = (error?: Error | boolean) => void;

/**
 * A pg client that goes back to its pool, marked broken, the moment its connection ends while it
 * is checked out. Without this a connection killed under a transaction is never given back:
 * Kysely releases a transaction's connection only after a successful COMMIT or ROLLBACK, and on a
 * dead connection neither can succeed, so each kill would cost the pool one slot for good.
 * Releasing twice (the holder after the eviction) is a no-op rather than pg-pool's exception.
 */
class EvictingClient extends pg.Client {
  #release: Release | undefined;

  constructor(config?: string | pg.ClientConfig) {
    super(config);
    this.on('end', () => this.release(new Error('Connection ended while checked out')));
  }

  // pg-pool assigns a fresh one-shot `release` on every checkout
  set release(release: Release) {
    this.#release = release;
  }

  get release(): Release {
    return (error) => {
      const release = this.#release;
      this.#release = undefined;
      release?.(error);
    };
  }
}

/** One ORM per process; each request works on its own `orm.em.fork()`. */
export async function createOrm({
  url,
  poolMax = 10,
  debug = false,
  acquireTimeoutMs = 0,
  statementTimeoutMs = 0,
  idleInTransactionTimeoutMs = 0,
}: OrmOptions): Promise<MikroORM> {
  return MikroORM.init({
    clientUrl: url,
    entities,
    debug,
    pool: { min: 0, max: poolMax, idleTimeoutMillis: 30_000 },
    // merged into the options of the pg Pool (and so of each client it creates)
    driverOptions: {
      Client: EvictingClient,
      connectionTimeoutMillis: acquireTimeoutMs,
      // a dead peer (no RST, e.g. a failed-over host) is noticed by TCP rather than never
      keepAlive: true,
      ...(statementTimeoutMs ? { statement_timeout: statementTimeoutMs } : {}),
      ...(idleInTransactionTimeoutMs ? { idle_in_transaction_session_timeout: idleInTransactionTimeoutMs } : {}),
    },
    // the schema is owned by the SQL migrations, not derived from entities
    ensureDatabase: false,
    allowGlobalContext: false,
  });
}

export type { EntityManager } from '@mikro-orm/postgresql';
export { MikroORM } from '@mikro-orm/postgresql';
