import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { appendFile, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { TEST_SECRETS } from './test/harness.ts';

const main = path.join(import.meta.dirname, 'main.ts');

function run(env: Record<string, string>): ChildProcess & { output: () => string; exited: Promise<number | null> } {
  const child = spawn(process.execPath, [main], { env: { PATH: process.env.PATH ?? '', ...env }, stdio: 'pipe' });
  let output = '';
  child.stdout?.on('data', (chunk) => {
    output += chunk;
  });
  child.stderr?.on('data', (chunk) => {
    output += chunk;
  });
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return Object.assign(child, { output: () => output, exited });
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

const dirs: string[] = [];
// every process a test started, by PID, so a failing test leaves none running
const pids: number[] = [];
afterAll(async () => {
  for (const pid of pids) if (alive(pid)) process.kill(pid, 'SIGKILL');
  for (const dir of dirs) await rm(dir, { recursive: true, force: true });
});

async function waitFor(check: () => boolean, ms: number): Promise<boolean> {
  for (let waited = 0; waited < ms; waited += 50) {
    if (check()) return true;
    await new Promise((r) => setTimeout(r, 50));
  }
  return check();
}

describe('the server process', () => {
  it.each([
    ['PORT', 'abc'],
    ['DATABASE_URL', 'nonsense'],
  ])('exits non-zero naming %s when it is malformed', async (name, value) => {
    const child = run({ [name]: value });
    expect(await child.exited).not.toBe(0);
    const lines = child.output().trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(new RegExp(`^Configuration error: ${name}: `));
  });

  it('starts on an embedded PostgreSQL, stops it on SIGTERM, and reuses the data on restart', async () => {
    const dataDir = await mkdtemp(path.join(tmpdir(), 'boxoffice-main-'));
    dirs.push(dataDir);
    const env = { DATA_DIR: dataDir, PORT: '0', LISTEN_HOST: '127.0.0.1', LOG_LEVEL: 'warn', ...TEST_SECRETS };

    const start = async () => {
      const child = run(env);
      for (let i = 0; i < 300 && !/listening on (\S+)/.test(child.output()); i++)
        await new Promise((r) => setTimeout(r, 100));
      const url = /listening on (\S+)/.exec(child.output())?.[1];
      expect(url, child.output()).toBeTruthy();
      return { child, url: url as string };
    };

    const first = await start();
    expect((await fetch(`${first.url}/readyz`)).status).toBe(200);
    // no SMTP_URL in development: the banner says where the mails go
    expect(first.child.output()).toContain(`Mail:           files in ${path.join(dataDir, 'mail')}`);
    const register = await fetch(`${first.url}/api/auth/register`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ email: 'keep@example.test', username: 'keeper', password: 'a-long-enough-password' }),
    });
    expect(register.status).toBe(200);
    const pidFile = path.join(dataDir, 'pg', 'postmaster.pid');
    const postgresPid = Number(readFileSync(pidFile, 'utf8').split('\n')[0]);
    expect(alive(postgresPid)).toBe(true);

    first.child.kill('SIGTERM');
    expect(await first.child.exited).toBe(0);
    // the database went last: nothing still finishing lost its connection on the way out
    expect(first.child.output()).not.toMatch(/shutdown step failed|Connection terminated/);
    expect(alive(postgresPid)).toBe(false);
    expect(existsSync(pidFile)).toBe(false);

    const second = await start();
    const login = await fetch(`${second.url}/api/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ email: 'keep@example.test', password: 'a-long-enough-password' }),
    });
    expect(login.status).toBe(200);
    second.child.kill('SIGTERM');
    expect(await second.child.exited).toBe(0);
  }, 60_000);

  it('after kill -9 of the server, the next start stops the orphaned PostgreSQL and comes up', async () => {
    const dataDir = await mkdtemp(path.join(tmpdir(), 'boxoffice-main-'));
    dirs.push(dataDir);
    const env = { DATA_DIR: dataDir, PORT: '0', LISTEN_HOST: '127.0.0.1', LOG_LEVEL: 'warn', ...TEST_SECRETS };
    const pidFile = path.join(dataDir, 'pg', 'postmaster.pid');

    const start = async () => {
      const child = run(env);
      if (child.pid) pids.push(child.pid);
      await waitFor(() => /listening on (\S+)/.test(child.output()) || child.exitCode !== null, 30_000);
      const url = /listening on (\S+)/.exec(child.output())?.[1];
      expect(url, child.output()).toBeTruthy();
      return { child, url: url as string };
    };

    const first = await start();
    const orphan = Number(readFileSync(pidFile, 'utf8').split('\n')[0]);
    pids.push(orphan);
    first.child.kill('SIGKILL');
    await first.child.exited;
    // nothing stopped PostgreSQL: it is still running, holding the data folder
    expect(alive(orphan)).toBe(true);

    const second = await start();
    expect((await fetch(`${second.url}/readyz`)).status).toBe(200);
    expect(await waitFor(() => !alive(orphan), 5000)).toBe(true);
    expect(second.child.output()).toContain(`stopping PostgreSQL (pid ${orphan}) left running`);
    const serving = Number(readFileSync(pidFile, 'utf8').split('\n')[0]);
    pids.push(serving);
    expect(serving).not.toBe(orphan);

    second.child.kill('SIGTERM');
    expect(await second.child.exited).toBe(0);
    expect(alive(serving)).toBe(false);
  }, 60_000);

  it('a start that fails says why: the error and what PostgreSQL logged', async () => {
    const dataDir = await mkdtemp(path.join(tmpdir(), 'boxoffice-main-'));
    dirs.push(dataDir);
    const env = { DATA_DIR: dataDir, PORT: '0', LISTEN_HOST: '127.0.0.1', LOG_LEVEL: 'warn', ...TEST_SECRETS };
    const first = run(env);
    if (first.pid) pids.push(first.pid);
    await waitFor(() => /listening on/.test(first.output()), 30_000);
    first.kill('SIGTERM');
    expect(await first.exited).toBe(0);
    // a setting PostgreSQL refuses at start
    await appendFile(path.join(dataDir, 'pg', 'postgresql.conf'), '\nshared_buffers = nonsense\n');

    const broken = run(env);
    if (broken.pid) pids.push(broken.pid);
    expect(await broken.exited).toBe(1);
    const output = broken.output();
    expect(output).toContain('failed to start');
    expect(output).toMatch(/PostgreSQL start failed/);
    expect(output).toMatch(/shared_buffers/);
  }, 60_000);
});
