import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN, startTestServer, type TestServer } from './test/harness.ts';

/*
 * The README's purchase journeys, run as they are written against a live server, so the README
 * cannot drift from what the server does: the curl block with bash, the SDK block with Node
 * (importing the SDK's source in place of the package).
 */

const run = promisify(execFile);
const root = path.resolve(import.meta.dirname, '../../..');
const sdkSource = path.join(root, 'packages/sdk/src/index.ts');

let server: TestServer;
let work: string;
let readme: string;

/** The fenced blocks of a language in the section under `heading`. */
function blocks(heading: string, language: string): string[] {
  const start = readme.indexOf(`\n${heading}\n`);
  if (start < 0) throw new Error(`README has no "${heading}"`);
  const rest = readme.slice(start + heading.length + 2);
  const end = rest.search(/\n#{2,3} /);
  const section = end < 0 ? rest : rest.slice(0, end);
  return [...section.matchAll(new RegExp(`\`\`\`${language}\\n([\\s\\S]*?)\`\`\``, 'g'))].map(
    (match) => match[1] ?? '',
  );
}

async function sh(command: string, args: string[], env: Record<string, string>) {
  try {
    return await run(command, args, { cwd: root, env: { ...process.env, ...env }, maxBuffer: 8 * 1024 * 1024 });
  } catch (error) {
    const failed = error as { stdout?: string; stderr?: string };
    throw new Error(`${command} failed:\n--- stdout\n${failed.stdout}\n--- stderr\n${failed.stderr}`);
  }
}

beforeAll(async () => {
  server = await startTestServer();
  work = await mkdtemp(path.join(os.tmpdir(), 'boxoffice-readme-'));
  readme = await readFile(path.join(root, 'README.md'), 'utf8');
});
afterAll(async () => {
  await server?.close();
  if (work) await rm(work, { recursive: true, force: true });
});

describe('the README, run against a live server', () => {
  it('the curl journey: publish, register, find, hold, pay, confirmed, cancel a spare hold', async () => {
    const [script] = blocks('### A purchase with curl', 'bash');
    expect(script).toContain('curl');
    const { stdout } = await sh('bash', ['-euo', 'pipefail', '-c', script as string], {
      BASE: server.url,
      ADMIN_EMAIL: ADMIN.email,
      ADMIN_PASSWORD: ADMIN.password,
    });
    const lines = stdout.trim().split('\n');
    expect(lines).toContain('confirmed');
    expect(lines).toContain('CONFIRMED');
    expect(lines.at(-1)).toBe('CANCELLED');
    const bookings = await server.sql<{ status: string; quantity: number }>(
      "SELECT b.status, b.quantity FROM bookings b JOIN users u ON u.id = b.user_id WHERE u.email = 'ada@example.com' ORDER BY b.created_at",
    );
    expect(bookings).toEqual([
      { status: 'CONFIRMED', quantity: 2 },
      { status: 'CANCELLED', quantity: 1 },
    ]);
  }, 60_000);

  it('the SDK journey: the same purchase through @boxoffice/sdk', async () => {
    const [source] = blocks('### SDK', 'ts');
    expect(source).toContain("from '@boxoffice/sdk'");
    const file = path.join(work, 'sdk-journey.mts');
    await writeFile(file, (source as string).replace("from '@boxoffice/sdk'", `from '${sdkSource}'`));
    const { stdout } = await sh(process.execPath, [file], { BOXOFFICE_URL: server.url });
    expect(stdout).toContain('booking CONFIRMED');
    expect(stdout).toContain('spare CANCELLED');
  }, 60_000);
});
