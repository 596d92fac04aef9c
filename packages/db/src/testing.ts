import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { startEmbeddedPostgres } from './embedded.ts';
import { migrateJobQueue } from './job-queue.ts';
import { migrate } from './migrate.ts';
import { createOrm } from './orm.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    databaseAdminUrl: string;
  }
}

const TEMPLATE = 'boxoffice_test_template';

function withDatabase(url: string, database: string): string {
  const parsed = new URL(url);
  parsed.pathname = `/${database}`;
  return parsed.toString();
}

async function admin<T>(adminUrl: string, work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

/**
 * For a test run: a PostgreSQL server (TEST_DATABASE_URL, or an embedded one in a temp folder)
 * and a migrated template database each test file clones in milliseconds.
 */
export async function startTestDatabaseServer(log: (line: string) => void = () => {}) {
  let adminUrl = process.env.TEST_DATABASE_URL;
  let stopServer = async () => {};
  if (!adminUrl) {
    const dataDir = await mkdtemp(path.join(tmpdir(), 'boxoffice-test-'));
    const server = await startEmbeddedPostgres({ dataDir, database: 'postgres', persistent: false });
    adminUrl = server.url;
    stopServer = async () => {
      await server.stop();
      await rm(dataDir, { recursive: true, force: true });
    };
    log(`embedded PostgreSQL for tests on port ${server.port}`);
  }
  await admin(adminUrl, async (client) => {
    await client.query(`DROP DATABASE IF EXISTS ${TEMPLATE} WITH (FORCE)`);
    await client.query(`CREATE DATABASE ${TEMPLATE}`);
  });
  const orm = await createOrm({ url: withDatabase(adminUrl, TEMPLATE), poolMax: 1 });
  try {
    await migrate(orm);
    // graphile-worker's schema too, so a test file's clone starts with it instead of installing it
    await migrateJobQueue(orm);
  } finally {
    await orm.close(true);
  }
  return { adminUrl, stop: stopServer };
}

/** A fresh, migrated database of its own for one test file. */
export async function createTestDatabase(adminUrl: string): Promise<{ url: string; drop: () => Promise<void> }> {
  const name = `boxoffice_test_${randomBytes(6).toString('hex')}`;
  await admin(adminUrl, (client) => client.query(`CREATE DATABASE ${name} TEMPLATE ${TEMPLATE}`));
  return {
    url: withDatabase(adminUrl, name),
    drop: async () => {
      await admin(adminUrl, (client) => client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`));
    },
  };
}
