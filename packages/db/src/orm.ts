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
  /**
   * `url` is a transaction-pooling pgbouncer: a connection here is a different server session from
   * one transaction to the next, so nothing may rely on session state (see `pooledClient`).
   */
  transactionPooler?: boolean;
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

type SessionTimeouts = { statementTimeoutMs: number; idleInTransactionTimeoutMs: number };

const BEGINS_TRANSACTION = /^\s*(begin|start\s+transaction)\b/i;

/**
 * The client for a transaction-pooling pgbouncer (1.18), where session state does not stick:
 * - the timeouts cannot be startup parameters (pgbouncer refuses unknown ones) nor session `SET`s
 *   (the next transaction may run on another server connection), so every transaction begins with
 *   `SET LOCAL` of both: a stuck transaction still cannot hold a row lock for long. A statement
 *   outside a transaction (a catalogue read) is bounded by pgbouncer's own `query_timeout`;
 * - named prepared statements would be prepared on one server connection and executed on another,
 *   so names are dropped and every statement goes out unnamed (parsed each time).
 */
function pooledClient({ statementTimeoutMs, idleInTransactionTimeoutMs }: SessionTimeouts): typeof pg.Client {
  const setLocal = [
    `SET LOCAL statement_timeout = ${Math.trunc(statementTimeoutMs)}`,
    `SET LOCAL idle_in_transaction_session_timeout = ${Math.trunc(idleInTransactionTimeoutMs)}`,
  ].join('; ');
  return class PooledClient extends EvictingClient {
    constructor(config?: string | pg.ClientConfig) {
      super(config);
      // wraps pg's query, whose dozen overloads pass through unchanged as one argument list
      const query = super.query;
      const run = (args: unknown[]): unknown => Reflect.apply(query, this, args);
      this.query = ((...args: unknown[]) => {
        const [first] = args as [{ name?: unknown; text?: unknown; submit?: unknown } | string | undefined];
        // a plain query config (not a Submittable such as a cursor, which keeps its prototype)
        if (first && typeof first === 'object' && typeof first.name === 'string' && typeof first.submit !== 'function')
          args[0] = { ...first, name: undefined };
        const text = typeof first === 'string' ? first : first?.text;
        const callback = args.some((arg) => typeof arg === 'function');
        if (typeof text !== 'string' || callback || !BEGINS_TRANSACTION.test(text)) return run(args);
        return (run(args) as Promise<pg.QueryResult>).then(async (began) => {
          await run([setLocal]);
          return began;
        });
      }) as pg.Client['query'];
    }
  };
}

/** One ORM per process; each request works on its own `orm.em.fork()`. */
export async function createOrm({
  url,
  poolMax = 10,
  debug = false,
  acquireTimeoutMs = 0,
  statementTimeoutMs = 0,
  idleInTransactionTimeoutMs = 0,
  transactionPooler = false,
}: OrmOptions): Promise<MikroORM> {
  const sessionSettings = transactionPooler
    ? {}
    : {
        ...(statementTimeoutMs ? { statement_timeout: statementTimeoutMs } : {}),
        ...(idleInTransactionTimeoutMs ? { idle_in_transaction_session_timeout: idleInTransactionTimeoutMs } : {}),
      };
  return MikroORM.init({
    clientUrl: url,
    entities,
    debug,
    pool: { min: 0, max: poolMax, idleTimeoutMillis: 30_000 },
    // merged into the options of the pg Pool (and so of each client it creates)
    driverOptions: {
      Client: transactionPooler ? pooledClient({ statementTimeoutMs, idleInTransactionTimeoutMs }) : EvictingClient,
      connectionTimeoutMillis: acquireTimeoutMs,
      // a dead peer (no RST, e.g. a failed-over host) is noticed by TCP rather than never
      keepAlive: true,
      // sent when each connection starts, so they hold for its whole session (direct connections only)
      ...sessionSettings,
    },
    // the schema is owned by the SQL migrations, not derived from entities
    ensureDatabase: false,
    allowGlobalContext: false,
  });
}

export type { EntityManager } from '@mikro-orm/postgresql';
export { MikroORM } from '@mikro-orm/postgresql';
