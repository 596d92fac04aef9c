import { mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { simpleParser } from 'mailparser';
import { afterAll, describe, expect, it } from 'vitest';
import { makeBuyers, seedEvent } from '../../test/fixtures.ts';
import { startTestServer, type TestServer } from '../../test/harness.ts';

describe('development without SMTP_URL', () => {
  const dirs: string[] = [];
  const servers: TestServer[] = [];
  afterAll(async () => {
    for (const server of servers) await server.close();
    for (const dir of dirs) await rm(dir, { recursive: true, force: true });
  });

  it('writes mails as .eml files under the data folder, and keeps the generated ticket key across restarts', async () => {
    const dataDir = await mkdtemp(path.join(tmpdir(), 'boxoffice-mail-'));
    dirs.push(dataDir);
    const server = await startTestServer({ pollJobs: false, env: { NODE_ENV: 'development', DATA_DIR: dataDir } });
    servers.push(server);
    const mailDir = path.join(dataDir, 'mail');
    expect(server.deps.mail.describe).toBe(`files in ${mailDir}`);

    const eventId = await seedEvent(server, { capacity: 3, priceMinor: 0, title: 'Open Rehearsal' });
    const [buyer] = await makeBuyers(server, 1);
    const booked = await server.http('POST', `/api/events/${eventId}/book`, {
      token: buyer!.token,
      body: { quantity: 2 },
    });
    expect(booked.body.status).toBe('CONFIRMED');
    await server.worker.runDue();
    const files = (await readdir(mailDir)).filter((name) => name.endsWith('.eml'));
    expect(files).toHaveLength(1);
    const mail = await simpleParser(await readFile(path.join(mailDir, files[0]!)));
    expect(mail.subject).toBe('Your tickets for Open Rehearsal');
    expect(mail.attachments.map((a) => a.contentType)).toEqual(['application/pdf']);

    const keyFile = path.join(dataDir, 'ticket-signing-key');
    expect((await stat(keyFile)).mode & 0o777).toBe(0o600);
    const publicKey = server.deps.tickets.signer.publicKeyBase64;
    const again = await startTestServer({
      pollJobs: false,
      shareDatabaseOf: server,
      env: { NODE_ENV: 'development', DATA_DIR: dataDir },
    });
    servers.push(again);
    expect(again.deps.tickets.signer.publicKeyBase64).toBe(publicKey);
  });
});

describe('MAIL_DISABLED=true', () => {
  let server: TestServer | undefined;
  afterAll(async () => {
    await server?.close();
  });

  it('sends nothing and composes nothing: the mail job closes the row without writing a file', async () => {
    const dataDir = await mkdtemp(path.join(tmpdir(), 'boxoffice-mail-off-'));
    server = await startTestServer({
      pollJobs: false,
      env: { NODE_ENV: 'development', DATA_DIR: dataDir, MAIL_DISABLED: 'true' },
    });
    expect(server.deps.mail.describe).toBe('disabled (mail is not sent)');
    const eventId = await seedEvent(server, { capacity: 3, priceMinor: 0 });
    const [buyer] = await makeBuyers(server, 1);
    await server.http('POST', `/api/events/${eventId}/book`, { token: buyer!.token, body: { quantity: 1 } });
    await server.worker.runDue();
    const rows = await server.sql<{ kind: string; done: boolean; last_error: string | null; recipient: string | null }>(
      'SELECT kind, sent_at IS NOT NULL AS done, last_error, recipient FROM mail_outbox',
    );
    expect(rows).toEqual([{ kind: 'booking-confirmed', done: true, last_error: 'mail disabled', recipient: null }]);
    await expect(readdir(path.join(dataDir, 'mail'))).rejects.toThrow();
    await rm(dataDir, { recursive: true, force: true });
  });
});
