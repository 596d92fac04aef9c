import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { startTestServer, type TestServer } from '@boxoffice/server/testing';
import { seedEvent } from '@boxoffice/server/testing/fixtures';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

/*
 * The SDK as an app outside this repository gets it: built and packed as it is published, installed
 * from the tarball into a folder of its own (its runtime dependencies come from the npm registry),
 * type-checked there under both module resolutions apps use, and run against a live server.
 */

const run = promisify(execFile);
const sdkDir = path.resolve(import.meta.dirname, '..');
const FORBIDDEN_IN_TYPES = ['mikro-orm', 'hono', '@boxoffice/server', 'apps/server', '@boxoffice/db', 'zod'];

let server: TestServer;
let work: string;
let consumer: string;
let tarball: string;

async function sh(command: string, args: string[], cwd: string) {
  try {
    return await run(command, args, { cwd, maxBuffer: 16 * 1024 * 1024, env: { ...process.env, CI: 'true' } });
  } catch (error) {
    const failed = error as { stdout?: string; stderr?: string; message: string };
    throw new Error(`${command} ${args.join(' ')} failed in ${cwd}:\n${failed.stdout ?? ''}\n${failed.stderr ?? ''}`);
  }
}

const CONSUMER_SOURCE = `import {
  type BoxofficeClient,
  type BoxofficeEvent,
  createBoxofficeClient,
  isBoxofficeError,
  type RouterInputs,
} from '@boxoffice/sdk';

export type JourneyResult = {
  registered: string;
  signedInAs: string;
  listed: string[];
  booked: { id: string; status: string };
  read: { id: string; status: string };
  cancelled: { id: string; status: string };
  refusal: string;
};

export async function journey(baseUrl: string, eventId: string): Promise<JourneyResult> {
  const client: BoxofficeClient = createBoxofficeClient({ baseUrl });
  const email = \`consumer-\${crypto.randomUUID()}@example.test\`;
  const password = 'a-long-enough-password';
  const registered = await client.auth.register({ email, username: 'consumer', password });
  const session = await client.auth.login({ email, password });
  const page = await client.events.list.query({ limit: 100 });
  const event: BoxofficeEvent | undefined = page.items.find((item) => item.id === eventId);
  if (!event) throw new Error('the event is not listed');
  const input: RouterInputs['bookings']['create'] = { eventId: event.id, quantity: 1 };
  const booked = await client.bookings.create.mutate(input);
  const read = await client.bookings.get.query({ bookingId: booked.id });
  const cancelled = await client.bookings.cancel.mutate({ bookingId: booked.id });
  let refusal = 'none';
  try {
    await client.bookings.cancel.mutate({ bookingId: booked.id });
  } catch (error) {
    if (isBoxofficeError(error, 'BOOKING_NOT_CANCELLABLE')) refusal = \`\${error.code} \${error.status}\`;
    else throw error;
  }
  await client.auth.logout();
  return {
    registered: registered.user.email,
    signedInAs: session.user.email,
    listed: page.items.map((item) => item.id),
    booked: { id: booked.id, status: booked.status },
    read: { id: read.id, status: read.status },
    cancelled: { id: cancelled.id, status: cancelled.status },
    refusal,
  };
}

// Never run: each line below must fail to compile, or tsc reports the unused @ts-expect-error.
export function mistakesTheCompilerCatches(client: BoxofficeClient, error: unknown) {
  // @ts-expect-error a wrong input: quantity is a number
  void client.bookings.create.mutate({ eventId: 'e', quantity: 'two' });
  // @ts-expect-error an unknown procedure
  void client.bookings.delete.mutate({ bookingId: 'b' });
  if (isBoxofficeError(error)) {
    // @ts-expect-error a misspelt error code
    if (error.code === 'SOLD_OUTT') return;
  }
  // @ts-expect-error a misspelt error code, where codes are passed
  return isBoxofficeError(error, 'HOLD_ALREADY_OPNE');
}
`;

const RUNNER_SOURCE = `import { journey } from './consumer.ts';
console.log(JSON.stringify(await journey(process.argv[2], process.argv[3])));
`;

function tsconfig(module: 'esnext' | 'nodenext', moduleResolution: 'bundler' | 'nodenext') {
  return JSON.stringify({
    compilerOptions: {
      target: 'es2022',
      // tRPC's types name Disposable, so a full library check needs esnext.disposable (or esnext)
      lib: ['es2022', 'esnext.disposable', 'dom'],
      module,
      moduleResolution,
      strict: true,
      noEmit: true,
      allowImportingTsExtensions: true,
      // the SDK's own declaration file is checked too; the libraries it imports are theirs to check
      skipLibCheck: false,
      types: [],
    },
    files: ['consumer.ts'],
  });
}

beforeAll(async () => {
  server = await startTestServer();
  work = await mkdtemp(path.join(os.tmpdir(), 'boxoffice-sdk-'));
  consumer = path.join(work, 'app');
  await sh('pnpm', ['run', '--silent', 'build'], sdkDir);
  const packed = await sh('pnpm', ['pack', '--pack-destination', work, '--json'], sdkDir);
  tarball = (JSON.parse(packed.stdout) as { filename: string }).filename;
}, 120_000);
afterAll(async () => {
  await server?.close();
  if (work) await rm(work, { recursive: true, force: true });
});

describe('the published SDK package', () => {
  it('holds only the build, the readme, changelog and licence, and depends on no server package', async () => {
    const { stdout } = await sh('tar', ['-tzf', tarball], work);
    expect(stdout.trim().split('\n').sort()).toEqual([
      'package/CHANGELOG.md',
      'package/LICENSE',
      'package/README.md',
      'package/dist/index.d.ts',
      'package/dist/index.js',
      'package/package.json',
    ]);
    const manifest = JSON.parse((await sh('tar', ['-xzOf', tarball, 'package/package.json'], work)).stdout);
    expect(Object.keys(manifest.dependencies).sort()).toEqual(['@trpc/client', '@trpc/server']);
    expect(manifest).not.toHaveProperty('devDependencies');
    expect(manifest).not.toHaveProperty('peerDependencies');
    expect(JSON.stringify(manifest)).not.toMatch(/workspace:|catalog:|@boxoffice\/(server|db|contracts)/);
    expect(manifest).toMatchObject({ type: 'module', sideEffects: false, license: 'MIT' });
  });

  it('has one declaration file that imports only tRPC and names nothing of the server', async () => {
    const types = await readFile(path.join(sdkDir, 'dist/index.d.ts'), 'utf8');
    const imported = [...types.matchAll(/(?:from|import\()\s*["']([^"']+)["']/g)].map((match) => match[1]);
    expect([...new Set(imported)].sort()).toEqual(['@trpc/server']);
    for (const word of FORBIDDEN_IN_TYPES) expect(types.toLowerCase(), word).not.toContain(word);
    expect(types).not.toMatch(/\bpg\b/i);
    const code = await readFile(path.join(sdkDir, 'dist/index.js'), 'utf8');
    const required = [...code.matchAll(/(?:from|import\()\s*["']([^"']+)["']/g)].map((match) => match[1]);
    expect([...new Set(required)].sort()).toEqual(['@trpc/client']);
  });

  it('installs into a fresh app, type-checks there (bundler and nodenext) and runs the journey against a live server', async () => {
    await sh('mkdir', ['-p', consumer], work);
    await writeFile(
      path.join(consumer, 'package.json'),
      JSON.stringify({ name: 'sdk-consumer', private: true, type: 'module' }, null, 2),
    );
    const typescript = JSON.parse(await readFile(path.join(sdkDir, 'node_modules/typescript/package.json'), 'utf8'));
    // the machine's npm configuration (registry included) applies: this folder has none of its own
    await sh(
      'npm',
      ['install', '--no-audit', '--no-fund', '--prefer-offline', tarball, `typescript@${typescript.version}`],
      consumer,
    );
    await writeFile(path.join(consumer, 'consumer.ts'), CONSUMER_SOURCE);
    await writeFile(path.join(consumer, 'run.mjs'), RUNNER_SOURCE);
    await writeFile(path.join(consumer, 'tsconfig.bundler.json'), tsconfig('esnext', 'bundler'));
    await writeFile(path.join(consumer, 'tsconfig.nodenext.json'), tsconfig('nodenext', 'nodenext'));
    const tsc = path.join(consumer, 'node_modules/typescript/bin/tsc');
    await sh(process.execPath, [tsc, '-p', 'tsconfig.bundler.json'], consumer);
    await sh(process.execPath, [tsc, '-p', 'tsconfig.nodenext.json'], consumer);

    // without the @ts-expect-error lines the same file fails, naming each mistake
    const unguarded = CONSUMER_SOURCE.replaceAll(/^\s*\/\/ @ts-expect-error.*$/gm, '');
    await writeFile(path.join(consumer, 'consumer.ts'), unguarded);
    const failure = await sh(process.execPath, [tsc, '-p', 'tsconfig.bundler.json'], consumer).catch((e) => e);
    const errors = [...String(failure).matchAll(/^consumer\.ts\(\d+,\d+\): error (TS\d+): (.*)$/gm)];
    expect(errors.map(([, code]) => code)).toEqual(['TS2322', 'TS2339', 'TS2367', 'TS2345']);
    expect(errors[1]?.[2]).toContain("Property 'delete' does not exist");
    expect(errors[2]?.[2]).toContain('"SOLD_OUTT"');
    expect(errors[3]?.[2]).toContain('"HOLD_ALREADY_OPNE"');
    await writeFile(path.join(consumer, 'consumer.ts'), CONSUMER_SOURCE);

    const eventId = await seedEvent(server, { capacity: 5 });
    const { stdout } = await sh(process.execPath, ['run.mjs', server.url, eventId], consumer);
    const result = JSON.parse(stdout);
    expect(result.registered).toBe(result.signedInAs);
    expect(result.listed).toContain(eventId);
    expect(result.booked.status).toBe('HELD');
    expect(result.read).toEqual(result.booked);
    expect(result.cancelled).toEqual({ id: result.booked.id, status: 'CANCELLED' });
    expect(result.refusal).toBe('BOOKING_NOT_CANCELLABLE 409');
  }, 240_000);
});
