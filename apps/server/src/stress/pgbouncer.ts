import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { freePort } from '@boxoffice/db';
import pg from 'pg';

/**
 * A pgbouncer (Debian's package, 1.18; `scripts/setup.sh --pgbouncer`) in transaction pooling mode
 * in front of one PostgreSQL, for the stress run's pass behind a pooler: its config and user list
 * in a temp folder, a free port, in the foreground as a child of this process. It refuses to run as
 * root, so as root it drops to `nobody` (`-u`), which is why its folder is world-readable.
 */

export type PgBouncer = {
  /** `target` with host and port replaced by the pooler's. */
  url: string;
  port: number;
  pid: number;
  stop(): Promise<void>;
};

const CANDIDATES = ['/usr/sbin/pgbouncer', '/usr/bin/pgbouncer', '/usr/local/bin/pgbouncer'];

export function pgbouncerBinary(): string | null {
  return CANDIDATES.find((candidate) => existsSync(candidate)) ?? null;
}

export async function startPgBouncer(target: string, opts: { poolSize?: number } = {}): Promise<PgBouncer> {
  const binary = pgbouncerBinary();
  if (!binary) throw new Error('pgbouncer is not installed: run `bash scripts/setup.sh --pgbouncer`');
  const upstream = new URL(target);
  const user = decodeURIComponent(upstream.username);
  const password = decodeURIComponent(upstream.password);
  const port = await freePort();
  const dir = await mkdtemp(path.join(tmpdir(), 'boxoffice-pgbouncer-'));
  await chmod(dir, 0o755);
  const quote = (value: string) => `"${value.replace(/"/g, '""')}"`;
  await writeFile(path.join(dir, 'userlist.txt'), `${quote(user)} ${quote(password)}\n`, { mode: 0o644 });
  const ini = [
    '[databases]',
    // every database name the clients ask for, on the one upstream server, as the same user
    `* = host=${upstream.hostname} port=${upstream.port || 5432} user=${user} password=${password}`,
    '[pgbouncer]',
    'listen_addr = 127.0.0.1',
    `listen_port = ${port}`,
    "unix_socket_dir = ''",
    'pool_mode = transaction',
    'auth_type = scram-sha-256',
    `auth_file = ${path.join(dir, 'userlist.txt')}`,
    `default_pool_size = ${opts.poolSize ?? 20}`,
    'max_client_conn = 500',
    // what the server's per-session timeouts cannot cover here (see packages/db/src/orm.ts)
    'query_timeout = 30',
    'idle_transaction_timeout = 15',
    'server_check_delay = 0',
    'log_connections = 0',
    'log_disconnections = 0',
    'admin_users =',
  ].join('\n');
  await writeFile(path.join(dir, 'pgbouncer.ini'), `${ini}\n`, { mode: 0o644 });
  const asRoot = process.getuid?.() === 0;
  const child: ChildProcess = spawn(binary, [...(asRoot ? ['-u', 'nobody'] : []), path.join(dir, 'pgbouncer.ini')], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-4000);
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGINT');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(timer);
    }
    await rm(dir, { recursive: true, force: true });
  };
  const pooled = new URL(target);
  pooled.hostname = '127.0.0.1';
  pooled.port = String(port);
  const url = pooled.toString();
  for (let waited = 0; ; waited += 100) {
    if (child.exitCode !== null) {
      await stop();
      throw new Error(`pgbouncer exited (${child.exitCode}): ${stderr.trim()}`);
    }
    const probe = new pg.Client({ connectionString: url });
    try {
      await probe.connect();
      await probe.query('SELECT 1');
      await probe.end();
      break;
    } catch (error) {
      await probe.end().catch(() => {});
      if (waited > 10_000) {
        await stop();
        throw new Error(`pgbouncer did not accept connections: ${(error as Error).message}; ${stderr.trim()}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
  return { url, port, pid: child.pid as number, stop };
}
