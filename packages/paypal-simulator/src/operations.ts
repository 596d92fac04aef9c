import type { Context, MiddlewareHandler } from 'hono';
import { applyFault, type Faults } from './faults.ts';
import type { Tokens } from './oauth.ts';
import { requestIdOf } from './wire.ts';

/** The API calls the simulator answers, the record of what it received, and the wrapper each call runs in. */

export const SIM_OPERATIONS = [
  'token',
  'createOrder',
  'getOrder',
  'captureOrder',
  'getCapture',
  'refundCapture',
  'getRefund',
] as const;
export type SimOperation = (typeof SIM_OPERATIONS)[number];

/** One HTTP request the simulator received; credentials (the Authorization header) are never kept. */
export type SimRequest = {
  operation: SimOperation | null;
  method: string;
  /** Path and query as received. */
  url: string;
  requestId: string | null;
  body: string;
  /** 0 while the request is still being handled. */
  status: number;
};

export type SimEnv = { Variables: { simRequest: SimRequest } };
export type Handler = (c: Context<SimEnv>) => Response | Promise<Response>;

const MAX_RECORDED_REQUESTS = 1000;
const MAX_RECORDED_BODY = 10_000;

const zeroCounts = () => Object.fromEntries(SIM_OPERATIONS.map((op) => [op, 0])) as Record<SimOperation, number>;

export function createRequestLog() {
  let entries: SimRequest[] = [];
  let counts = zeroCounts();

  const middleware: MiddlewareHandler<SimEnv> = async (c, next) => {
    const url = new URL(c.req.url);
    const body =
      c.req.method === 'GET' || c.req.method === 'HEAD'
        ? ''
        : (await c.req.raw.clone().text()).slice(0, MAX_RECORDED_BODY);
    const entry: SimRequest = {
      operation: null,
      method: c.req.method,
      url: url.pathname + url.search,
      requestId: requestIdOf(c),
      body,
      status: 0,
    };
    // bounded: the offline server keeps one simulator for its whole life
    if (entries.length >= MAX_RECORDED_REQUESTS) entries.splice(0, entries.length - MAX_RECORDED_REQUESTS + 1);
    entries.push(entry);
    c.set('simRequest', entry);
    await next();
    entry.status = c.res.status;
  };

  return {
    middleware,
    count(op: SimOperation, c: Context<SimEnv>) {
      counts[op] += 1;
      c.get('simRequest').operation = op;
    },
    counts: () => ({ ...counts }),
    entries: () => structuredClone(entries),
    clear() {
      entries = [];
      counts = zeroCounts();
    },
  };
}

export type RequestLog = ReturnType<typeof createRequestLog>;

/**
 * Wraps a route handler as one PayPal operation: counts the call, applies any queued fault, checks
 * the Bearer token, then runs the handler.
 */
export function operationRunner(deps: { log: RequestLog; faults: Faults; tokens: Tokens }) {
  return (op: SimOperation, needsToken: boolean, handler: Handler): Handler =>
    async (c) => {
      deps.log.count(op, c);
      const fault = deps.faults.take(op);
      if (fault?.when === 'before') {
        const early = await applyFault(c, fault);
        if (early) return early;
      }
      const response = (needsToken ? deps.tokens.bearerFailure(c) : null) ?? (await handler(c));
      if (fault?.when === 'after') {
        const late = await applyFault(c, fault);
        if (late) return late;
      }
      return response;
    };
}

export type Operation = ReturnType<typeof operationRunner>;
