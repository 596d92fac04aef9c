/**
 * The HTTP ceilings, in a process of their own as the server is: a bare node:http server, and a
 * bare Hono + tRPC server (the same adapters as ours, nothing else) whose `events.list` and
 * `events.get` return bodies captured from the real server. So a catalogue read's ceiling answers
 * the same requests with the same bytes, minus everything of ours in between.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { serve } from '@hono/node-server';
import { trpcServer } from '@hono/trpc-server';
import { initTRPC } from '@trpc/server';
import { Hono } from 'hono';
import { serveTasks } from './children.ts';

type Bodies = { list: unknown; event: unknown };

let closers: (() => Promise<void>)[] = [];

async function start(bodies: Bodies): Promise<{ node: string; trpc: string }> {
  const nodeBody = JSON.stringify({ result: { data: bodies.event } });
  const bare = createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(nodeBody);
  });
  await new Promise<void>((resolve) => bare.listen(0, '127.0.0.1', resolve));

  const t = initTRPC.create();
  const router = t.router({
    events: t.router({
      list: t.procedure.input((raw) => raw).query(() => bodies.list),
      get: t.procedure.input((raw) => raw).query(() => bodies.event),
    }),
  });
  const app = new Hono();
  app.use('/trpc/*', trpcServer({ endpoint: '/trpc', router }));
  const hono = await new Promise<ReturnType<typeof serve>>((resolve) => {
    const server = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' }, () => resolve(server));
  });
  const close = (server: { close(done: () => void): void; closeAllConnections?: () => void }) =>
    new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections?.();
    });
  closers = [() => close(bare), () => close(hono as unknown as Parameters<typeof close>[0])];
  return {
    node: `http://127.0.0.1:${(bare.address() as AddressInfo).port}`,
    trpc: `http://127.0.0.1:${(hono.address() as AddressInfo).port}`,
  };
}

serveTasks({
  start: (args) => start(args.bodies as Bodies),
  exit: async () => {
    for (const close of closers) await close();
  },
});
