import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signUp, startTestServer, type TestServer } from '../test/harness.ts';
import type { ProcedureMeta } from './init.ts';
import { appRouter } from './root.ts';

type Described = { path: string; type: 'query' | 'mutation'; access: ProcedureMeta['access'] };

// Generated from the router: a procedure added later is covered without touching this file.
const procedures: Described[] = Object.entries(appRouter._def.procedures).map(([path, procedure]) => {
  const def = (procedure as unknown as { _def: { type: 'query' | 'mutation'; meta?: ProcedureMeta } })._def;
  return { path, type: def.type, access: def.meta?.access };
});

let server: TestServer;
let userToken: string;
beforeAll(async () => {
  server = await startTestServer();
  userToken = (await signUp(server)).accessToken;
});
afterAll(() => server?.close());

function call(procedure: Described, token?: string) {
  const init = token ? { token } : {};
  return procedure.type === 'query'
    ? server.http('GET', `/trpc/${procedure.path}?input=${encodeURIComponent('{}')}`, init)
    : server.http('POST', `/trpc/${procedure.path}`, { ...init, body: {} });
}

describe('access control, for every procedure in the router', () => {
  it('every procedure declares who may call it', () => {
    expect(procedures.length).toBeGreaterThan(10);
    expect(procedures.filter((p) => !p.access)).toEqual([]);
    expect(
      procedures
        .filter((p) => p.access === 'admin')
        .map((p) => p.path)
        .sort(),
    ).toEqual([
      'bookings.list',
      'bookings.reconcile',
      'bookings.refund',
      'checkin.grantStaff',
      'checkin.listStaff',
      'checkin.revokeStaff',
      'events.cancel',
      'events.create',
      'events.refundProgress',
      'events.update',
      'queue.configure',
      'queue.state',
      'waitlist.state',
    ]);
  });

  it.each(procedures.filter((p) => p.access === 'admin'))(
    '$path: a plain user gets 403 FORBIDDEN',
    async (procedure) => {
      const res = await call(procedure, userToken);
      expect(res.status).toBe(403);
      expect(res.body.error.data.code).toBe('FORBIDDEN');
    },
  );

  // door staff are granted per event: a user who is staff of none is refused before anything else
  it.each(procedures.filter((p) => p.access === 'staff'))(
    '$path: a plain user (staff of no event) gets 403 FORBIDDEN',
    async (procedure) => {
      const res = await call(procedure, userToken);
      expect(res.status).toBe(403);
      expect(res.body.error.data.code).toBe('FORBIDDEN');
    },
  );

  it.each(procedures.filter((p) => p.access === 'admin' || p.access === 'user' || p.access === 'staff'))(
    '$path: no token gets 401',
    async (procedure) => {
      const res = await call(procedure);
      expect(res.status).toBe(401);
      expect(res.body.error.data.code).toBe('UNAUTHENTICATED');
    },
  );
});
