import { execFile } from 'node:child_process';
import path from 'node:path';
import type { ListeningPayPalSimulator, PayPalSimulatorControls } from '@boxoffice/paypal-simulator';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { manualClock } from '../lib/clock.ts';
import { pressPayPalButton } from '../test/fixtures.ts';
import { ADMIN, signInAdmin, startTestServer, TEST_SECRETS, type TestServer } from '../test/harness.ts';
import { bookingStatus, expectMoneyAndTicketsAgree, ledgerOf, paidHold } from '../test/money.ts';
import { parseReconcileArgs } from './reconcile.ts';

// Reconciliation against a simulator on its own listener, so `pnpm reconcile` (a process of its
// own) asks the same PayPal as the server. No webhooks here: what PayPal did must be found by asking.
const REPO = path.resolve(import.meta.dirname, '../../../..');
const clock = manualClock(new Date());
let server: TestServer;
let sim: PayPalSimulatorControls;
let standalone: ListeningPayPalSimulator;
let admin: string;
beforeAll(async () => {
  server = await startTestServer({
    clock,
    pollJobs: false,
    paypalSimulator: 'standalone',
    env: { PAYPAL_TIMEOUT_MS: '1000', ACCESS_TOKEN_EXPIRE_MINUTES: '1440' },
  });
  standalone = server.deps.paypalSimulator as ListeningPayPalSimulator;
  sim = standalone.controls;
  admin = (await signInAdmin(server)).accessToken;
});
afterAll(() => server?.close());

/** `pnpm reconcile ...` against this test's database and simulator; resolves with its exit code and output. */
function pnpmReconcile(...args: string[]): Promise<{ code: number; out: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['apps/server/bin/reconcile.mjs', ...args],
      {
        cwd: REPO,
        timeout: 60_000,
        env: {
          PATH: process.env.PATH,
          NODE_ENV: 'test',
          LOG_LEVEL: 'silent',
          DATABASE_URL: server.databaseUrl,
          PAYPAL_API_BASE_URL: standalone.baseUrl,
          PAYPAL_CLIENT_ID: standalone.credentials.clientId,
          PAYPAL_SECRET_KEY: standalone.credentials.clientSecret,
          ADMIN_EMAIL: ADMIN.email,
          ADMIN_USERNAME: ADMIN.username,
          ADMIN_PASSWORD: ADMIN.password,
          ...TEST_SECRETS,
        },
      },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === 'number' ? error.code : 2) : 0;
        resolve({ code, out: `${stdout}${stderr}` });
      },
    );
  });
}

const visit = (url: string) => server.http('GET', url.replace(server.url, ''));

describe('pnpm reconcile', () => {
  it('reads its arguments', () => {
    expect(parseReconcileArgs([])).toEqual({ sinceHours: 168, repair: false, json: false });
    expect(parseReconcileArgs(['--since', '12h', '--repair'])).toEqual({ sinceHours: 12, repair: true, json: false });
    expect(parseReconcileArgs(['--since=30d', '--json'])).toMatchObject({ sinceHours: 720, json: true });
    expect(() => parseReconcileArgs(['--since', 'yesterday'])).toThrow(/--since/);
    expect(() => parseReconcileArgs(['--fix'])).toThrow(/unknown argument/);
  });

  it('reports each mismatch, --repair settles them through the webhooks’ paths, and then there is none', async () => {
    // captured at PayPal (every answer lost), then the buyer cancelled: money taken, no tickets
    const lost = await paidHold(server);
    const back = await pressPayPalButton(server, lost.orderId, 'approve');
    sim.failNext('captureOrder', { when: 'after', times: 3 });
    expect((await visit(back)).body.state).toBe('unavailable');
    expect((await server.http('POST', `/api/bookings/${lost.bookingId}/cancel`, { token: lost.token })).status).toBe(
      200,
    );

    // refunded in PayPal's dashboard, and no webhook told us
    const dashboard = await paidHold(server);
    expect((await visit(await pressPayPalButton(server, dashboard.orderId, 'approve'))).body.state).toBe('confirmed');
    const dashboardCapture = sim.order(dashboard.orderId)!.captures[0]!.id;
    sim.refundInDashboard(dashboardCapture);

    // PayPal reversed its word on a capture we confirmed: no path can decide that one
    const disputed = await paidHold(server);
    expect((await visit(await pressPayPalButton(server, disputed.orderId, 'approve'))).body.state).toBe('confirmed');
    const disputedCapture = sim.order(disputed.orderId)!.captures[0]!.id;
    sim.settleCapture(disputedCapture, 'DECLINED');

    // a booking that agrees with PayPal is not reported
    const fine = await paidHold(server);
    expect((await visit(await pressPayPalButton(server, fine.orderId, 'approve'))).body.state).toBe('confirmed');

    const report = await pnpmReconcile('--since', '7d');
    console.log(`$ pnpm reconcile --since 7d   (exit ${report.code})\n${report.out}`);
    expect(report.code).toBe(1);
    expect(report.out).toMatch(new RegExp(`captured_not_confirmed\\s+booking ${lost.bookingId} \\(CANCELLED\\)`));
    expect(report.out).toMatch(new RegExp(`capture_not_recorded\\s+booking ${lost.bookingId}`));
    expect(report.out).toMatch(
      new RegExp(`refunded_at_paypal_not_here\\s+booking ${dashboard.bookingId} \\(CONFIRMED\\)`),
    );
    expect(report.out).toMatch(new RegExp(`confirmed_without_capture\\s+booking ${disputed.bookingId}`));
    expect(report.out).not.toContain(fine.bookingId);
    expect(report.out).toContain('Run with --repair');
    // reporting changed nothing
    expect(await bookingStatus(server, dashboard.bookingId)).toBe('CONFIRMED');
    expect(await ledgerOf(server, lost.bookingId)).toEqual([]);

    // the admin procedure, with repair
    const repaired = await server.http('POST', '/api/admin/reconcile', { token: admin, body: { repair: true } });
    expect(repaired.status).toBe(200);
    const byKind = (kind: string, bookingId: string) =>
      repaired.body.mismatches.find(
        (m: { kind: string; bookingId: string }) => m.kind === kind && m.bookingId === bookingId,
      );
    expect(byKind('captured_not_confirmed', lost.bookingId)).toMatchObject({ repaired: true, after: 'CANCELLED' });
    expect(byKind('refunded_at_paypal_not_here', dashboard.bookingId)).toMatchObject({
      repaired: true,
      after: 'REFUNDED',
    });
    expect(byKind('confirmed_without_capture', disputed.bookingId)).toMatchObject({
      repaired: false,
      after: 'CONFIRMED',
    });
    expect(await ledgerOf(server, lost.bookingId)).toEqual([
      { kind: 'capture', status: 'COMPLETED', amount_minor: 5000 },
      { kind: 'refund', status: 'COMPLETED', amount_minor: 5000 },
    ]);
    expect(sim.capture(sim.order(lost.orderId)!.captures[0]!.id)?.status).toBe('REFUNDED');
    expect(await bookingStatus(server, dashboard.bookingId)).toBe('REFUNDED');
    expect(sim.capture(dashboardCapture)?.refunds).toHaveLength(1); // nothing refunded twice

    // a person settles the dispute with PayPal
    sim.settleCapture(disputedCapture, 'COMPLETED');
    await server.worker.runDue();
    await expectMoneyAndTicketsAgree(server);
    const clean = await pnpmReconcile('--since', '7d', '--repair');
    console.log(`$ pnpm reconcile --since 7d --repair   (exit ${clean.code})\n${clean.out}`);
    expect(clean.out).toContain('No mismatches.');
    expect(clean.code).toBe(0);
  }, 120_000);
});
