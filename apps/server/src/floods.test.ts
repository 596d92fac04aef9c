import { connect, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from './test/harness.ts';

// Slow clients and floods against a real listener: headers trickled in (slowloris), 10 MB bodies,
// 1,000 connections held open. The server must drop the slow ones on time, refuse the big ones
// before reading them, and keep answering everyone else meanwhile.

const HEADERS_TIMEOUT_MS = 2000;
const REQUEST_TIMEOUT_MS = 4000;
const TEN_MB = 10 * 1024 * 1024;

let server: TestServer;
let port: number;
beforeAll(async () => {
  server = await startTestServer({
    env: { HTTP_HEADERS_TIMEOUT_MS: String(HEADERS_TIMEOUT_MS), HTTP_REQUEST_TIMEOUT_MS: String(REQUEST_TIMEOUT_MS) },
  });
  port = Number(new URL(server.url).port);
});
afterAll(() => server?.close());

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

type RawConnection = {
  socket: Socket;
  /** Everything the server sent, so far. */
  received: () => string;
  /** Resolves with the time it closed (ms after opening) once the server (or the peer) closed it. */
  closed: Promise<number>;
};

function open(): Promise<RawConnection> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const socket = connect({ host: '127.0.0.1', port });
    let data = '';
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => {
      data += chunk;
    });
    const closed = new Promise<number>((done) => socket.on('close', () => done(performance.now() - started)));
    socket.on('error', () => {});
    socket.once('connect', () => resolve({ socket, received: () => data, closed }));
    socket.once('error', reject);
  });
}

/** A well-behaved client's request while the flood goes on: how long the answer took. */
async function timedHealthz(): Promise<{ status: number; ms: number }> {
  const started = performance.now();
  const response = await fetch(`${server.url}/healthz`, { signal: AbortSignal.timeout(10_000) });
  await response.arrayBuffer();
  return { status: response.status, ms: performance.now() - started };
}

async function othersMeanwhile(untilMs: number): Promise<{ status: number; ms: number }[]> {
  const answers: { status: number; ms: number }[] = [];
  const end = performance.now() + untilMs;
  while (performance.now() < end) {
    answers.push(await timedHealthz());
    await sleep(100);
  }
  return answers;
}

function statusOf(raw: string): number {
  return Number(/^HTTP\/1\.1 (\d{3})/.exec(raw)?.[1] ?? 0);
}

describe('slow clients and floods', () => {
  it('slowloris: 200 connections trickling headers are cut off at the headers timeout with 408, others answered meanwhile', async () => {
    const slow = await Promise.all(Array.from({ length: 200 }, open));
    for (const connection of slow) connection.socket.write('GET /healthz HTTP/1.1\r\nHost: localhost\r\n');
    let trickling = true;
    const trickle = (async () => {
      for (let n = 0; trickling; n++) {
        for (const connection of slow) if (!connection.socket.destroyed) connection.socket.write(`X-Slow-${n}: 1\r\n`);
        await sleep(300);
      }
    })();
    const others = await othersMeanwhile(HEADERS_TIMEOUT_MS + 500);
    const closedAt = await Promise.all(slow.map((connection) => connection.closed));
    trickling = false;
    await trickle;

    // every slow connection got the error shape and was closed, by the headers timeout, not later
    const statuses = slow.map((connection) => statusOf(connection.received()));
    expect(new Set(statuses)).toEqual(new Set([408]));
    expect(slow[0]?.received()).toContain('"code":"REQUEST_TIMEOUT"');
    // checked once a second (http-errors.ts), with room for a busy machine
    expect(Math.max(...closedAt)).toBeLessThan(HEADERS_TIMEOUT_MS + 2500);
    expect(Math.min(...closedAt)).toBeGreaterThanOrEqual(HEADERS_TIMEOUT_MS - 100);
    expect(others.every((answer) => answer.status === 200)).toBe(true);
    const slowest = Math.max(...others.map((answer) => answer.ms));
    console.log(
      `floods: 200 slowloris connections closed with 408 after ${Math.round(Math.min(...closedAt))}-${Math.round(Math.max(...closedAt))} ms; ${others.length} other requests meanwhile, slowest ${Math.round(slowest)} ms`,
    );
    expect(slowest).toBeLessThan(1000);
  });

  it('a body that trickles in past the request timeout is cut off with 408', async () => {
    const connection = await open();
    connection.socket.write(
      'POST /api/auth/login HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{',
    );
    const timer = setInterval(() => connection.socket.write(' '), 200);
    const closedAfter = await connection.closed;
    clearInterval(timer);
    expect(statusOf(connection.received())).toBe(408);
    expect(closedAfter).toBeGreaterThanOrEqual(REQUEST_TIMEOUT_MS - 100);
    expect(closedAfter).toBeLessThan(REQUEST_TIMEOUT_MS + 2500);
  });

  it('a declared 10 MB body is refused with 413 before it is sent', async () => {
    const connection = await open();
    const started = performance.now();
    connection.socket.write(
      `POST /api/auth/register HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: ${TEN_MB}\r\n\r\n`,
    );
    const chunk = Buffer.alloc(64 * 1024, 'a');
    let sent = 0;
    while (sent < TEN_MB && statusOf(connection.received()) === 0) {
      if (!connection.socket.write(chunk)) await sleep(5);
      sent += chunk.length;
      await sleep(2);
    }
    const answeredAfter = performance.now() - started;
    connection.socket.destroy();
    expect(statusOf(connection.received())).toBe(413);
    expect(connection.received()).toContain('"code":"PAYLOAD_TOO_LARGE"');
    console.log(
      `floods: declared 10 MB body answered 413 after ${Math.round(answeredAfter)} ms, ${(sent / 1024 / 1024).toFixed(1)} MB sent by then`,
    );
    expect(sent).toBeLessThan(TEN_MB / 2);
    expect(answeredAfter).toBeLessThan(1000);
  });

  it('a streamed (chunked) 10 MB body is refused with 413 once past the limit, without reading it all', async () => {
    const body = new ReadableStream<Uint8Array>({
      start() {},
      pull(controller) {
        controller.enqueue(new Uint8Array(64 * 1024).fill(97));
        streamed += 64 * 1024;
        if (streamed >= TEN_MB) controller.close();
      },
    });
    let streamed = 0;
    const started = performance.now();
    const response = await fetch(`${server.url}/api/auth/register`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body,
      duplex: 'half',
    } as RequestInit & { duplex: 'half' });
    const answeredAfter = performance.now() - started;
    expect(response.status).toBe(413);
    expect(((await response.json()) as { error: { code: string } }).error.code).toBe('PAYLOAD_TOO_LARGE');
    console.log(
      `floods: chunked 10 MB body answered 413 after ${Math.round(answeredAfter)} ms, ${(streamed / 1024 / 1024).toFixed(1)} MB streamed by then`,
    );
    expect(answeredAfter).toBeLessThan(2000);
    expect(streamed).toBeLessThan(TEN_MB);
  });

  it('1,000 connections held open: others are answered in time, and the idle ones are closed by the timeout', async () => {
    const idle: RawConnection[] = [];
    for (let n = 0; n < 1000; n += 100) idle.push(...(await Promise.all(Array.from({ length: 100 }, open))));
    // half say nothing at all, half have started a request they never finish
    for (const [n, connection] of idle.entries()) if (n % 2) connection.socket.write('GET /api/events HTTP/1.1\r\n');
    const others = await othersMeanwhile(1500);
    expect(others.every((answer) => answer.status === 200)).toBe(true);
    const slowest = Math.max(...others.map((answer) => answer.ms));
    const closedAt = await Promise.race([
      Promise.all(idle.map((connection) => connection.closed)),
      sleep(REQUEST_TIMEOUT_MS + 5000).then(() => null),
    ]);
    const stillOpen = idle.filter((connection) => !connection.socket.destroyed && !connection.socket.closed).length;
    for (const connection of idle) connection.socket.destroy();
    console.log(
      `floods: 1000 connections open; ${others.length} other requests answered, slowest ${Math.round(slowest)} ms; ` +
        `${closedAt ? `all closed by the server within ${Math.round(Math.max(...closedAt))} ms` : `${stillOpen} still open`}`,
    );
    expect(slowest).toBeLessThan(1000);
    expect(closedAt).not.toBeNull();
  });
});
