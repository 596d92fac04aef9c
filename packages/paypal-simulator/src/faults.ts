import { type Context, Hono } from 'hono';
import { z } from 'zod';
import type { PayPalSimulatorControls } from './controls.ts';
import { SIM_OPERATIONS, type SimEnv, type SimOperation } from './operations.ts';
import { paypalError } from './wire.ts';

/**
 * Fault injection: 5xx answers, slow or lost answers, scripted capture outcomes. It exists only
 * when the simulator is created with `faults: true` (tests, local experiments); otherwise the
 * controls that inject faults throw and the /__sim routes are not mounted at all.
 */

export type SimFaultTiming = {
  times?: number;
  /** `before`: nothing is processed. `after`: the request takes effect but its answer is lost. */
  when?: 'before' | 'after';
};

/** How the next capture behaves; consumed by the next capture that would otherwise succeed. */
export type SimCaptureBehaviour = {
  /** Only for this order; without it, the next capture of any order. */
  orderId?: string;
  /** Capture status in the 201 answer. The order becomes COMPLETED in every case, as PayPal does. */
  status?: 'COMPLETED' | 'PENDING' | 'DECLINED';
  /** Answer 422 INSTRUMENT_DECLINED instead: nothing is captured and the order stays APPROVED. */
  instrumentDeclined?: boolean;
  /** Report a different amount, currency or custom_id on the capture, to test mismatch checks. */
  amountValue?: string;
  currency?: string;
  customId?: string;
};

/** How the next refund behaves; consumed by the next refund that would otherwise succeed. */
export type SimRefundBehaviour = {
  /** Only for this capture; without it, the next refund of any capture. */
  captureId?: string;
  /** FAILED: PayPal answers with a refund that failed outright; no money moves, the capture stays refundable. */
  status: 'FAILED';
};

export type Fault =
  | { kind: 'fail'; status: number; when: 'before' | 'after' }
  | { kind: 'hang'; ms: number; when: 'before' | 'after' };

export class FaultsDisabledError extends Error {
  constructor(control: string) {
    super(`PayPal simulator: ${control} needs fault injection, which is off (create it with faults: true)`);
    this.name = 'FaultsDisabledError';
  }
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

export function createFaults(enabled: boolean) {
  const queues = new Map<SimOperation, Fault[]>();
  const captureBehaviours: SimCaptureBehaviour[] = [];
  const refundBehaviours: SimRefundBehaviour[] = [];
  const guard = (control: string) => {
    if (!enabled) throw new FaultsDisabledError(control);
  };
  const enqueue = (op: SimOperation, fault: Fault, times: number) => {
    const queue = queues.get(op) ?? [];
    for (let i = 0; i < times; i += 1) queue.push({ ...fault });
    queues.set(op, queue);
  };

  return {
    enabled,
    guard,
    failNext(
      op: SimOperation,
      { times = 1, status = 500, when = 'before' }: SimFaultTiming & { status?: number } = {},
    ) {
      guard('failNext');
      enqueue(op, { kind: 'fail', status, when }, times);
    },
    hangNext(op: SimOperation, { ms, times = 1, when = 'after' }: SimFaultTiming & { ms: number }) {
      guard('hangNext');
      enqueue(op, { kind: 'hang', ms, when }, times);
    },
    queueCapture(behaviour: SimCaptureBehaviour) {
      guard('queueCapture');
      captureBehaviours.push({ ...behaviour });
    },
    queueRefund(behaviour: SimRefundBehaviour) {
      guard('queueRefund');
      refundBehaviours.push({ ...behaviour });
    },
    takeRefundBehaviour(captureId: string): SimRefundBehaviour | undefined {
      const index = refundBehaviours.findIndex((b) => b.captureId === undefined || b.captureId === captureId);
      return index === -1 ? undefined : refundBehaviours.splice(index, 1)[0];
    },
    take: (op: SimOperation): Fault | undefined => queues.get(op)?.shift(),
    takeCaptureBehaviour(orderId: string): SimCaptureBehaviour {
      const index = captureBehaviours.findIndex((b) => b.orderId === undefined || b.orderId === orderId);
      if (index === -1) return {};
      return captureBehaviours.splice(index, 1)[0] ?? {};
    },
    clear() {
      queues.clear();
      captureBehaviours.length = 0;
      refundBehaviours.length = 0;
    },
  };
}

export type Faults = ReturnType<typeof createFaults>;

/** A hang delays and lets the call go on; a failure answers in its place. */
export async function applyFault(c: Context, fault: Fault): Promise<Response | null> {
  if (fault.kind === 'hang') {
    await sleep(fault.ms);
    return null;
  }
  return paypalError(c, fault.status);
}

const Operation = z.enum(SIM_OPERATIONS);
const When = z.enum(['before', 'after']).optional();
const Times = z.number().int().min(1).max(100).optional();
const ControlBodies = {
  fail: z.object({
    operation: Operation,
    times: Times,
    status: z.number().int().min(400).max(599).optional(),
    when: When,
  }),
  hang: z.object({ operation: Operation, ms: z.number().int().min(1).max(120_000), times: Times, when: When }),
  capture: z.object({
    orderId: z.string().optional(),
    status: z.enum(['COMPLETED', 'PENDING', 'DECLINED']).optional(),
    instrumentDeclined: z.boolean().optional(),
    amountValue: z.string().optional(),
    currency: z.string().optional(),
    customId: z.string().optional(),
  }),
  refund: z.object({ captureId: z.string().optional(), status: z.literal('FAILED') }),
  deliver: z.object({
    reverse: z.boolean().optional(),
    eventTypes: z.array(z.string()).optional(),
    url: z.url().optional(),
  }),
};

/** HTTP mirror of the controls, for tests that drive a simulator living in another process. */
export function faultControlRoutes(controls: PayPalSimulatorControls): Hono<SimEnv> {
  const app = new Hono<SimEnv>();
  const body = async <T extends z.ZodType>(c: Context, schema: T): Promise<z.infer<T> | null> => {
    const parsed = schema.safeParse(await c.req.json().catch(() => undefined));
    return parsed.success ? parsed.data : null;
  };
  const invalid = (c: Context) => c.json({ error: 'invalid control request' }, 400);
  app.post('/__sim/fail', async (c) => {
    const input = await body(c, ControlBodies.fail);
    if (!input) return invalid(c);
    controls.failNext(input.operation, input);
    return c.body(null, 204);
  });
  app.post('/__sim/hang', async (c) => {
    const input = await body(c, ControlBodies.hang);
    if (!input) return invalid(c);
    controls.hangNext(input.operation, input);
    return c.body(null, 204);
  });
  app.post('/__sim/capture', async (c) => {
    const input = await body(c, ControlBodies.capture);
    if (!input) return invalid(c);
    controls.queueCapture(input);
    return c.body(null, 204);
  });
  app.post('/__sim/orders/:id/approve', (c) => {
    const id = c.req.param('id');
    if (!controls.order(id)) return c.json({ error: 'no such order' }, 404);
    try {
      return c.json(controls.approve(id));
    } catch (error) {
      return c.json({ error: (error as Error).message }, 409);
    }
  });
  app.post('/__sim/refund', async (c) => {
    const input = await body(c, ControlBodies.refund);
    if (!input) return invalid(c);
    controls.queueRefund(input);
    return c.body(null, 204);
  });
  for (const [path, kind] of [
    ['dashboard-refund', 'refundInDashboard'],
    ['reverse', 'reverseCapture'],
  ] as const)
    app.post(`/__sim/captures/:id/${path}`, (c) => {
      const id = c.req.param('id');
      if (!controls.capture(id)) return c.json({ error: 'no such capture' }, 404);
      try {
        return c.json(controls[kind](id));
      } catch (error) {
        return c.json({ error: (error as Error).message }, 409);
      }
    });
  app.post('/__sim/webhooks/pause', (c) => {
    controls.pauseWebhooks();
    return c.body(null, 204);
  });
  app.post('/__sim/webhooks/resume', (c) => {
    controls.resumeWebhooks();
    return c.body(null, 204);
  });
  app.post('/__sim/webhooks/deliver', async (c) => {
    const input = await body(c, ControlBodies.deliver);
    if (!input) return invalid(c);
    return c.json({ delivered: await controls.deliverWebhooks(input) });
  });
  app.get('/__sim/webhooks', (c) =>
    c.json({ events: controls.webhookEvents(), deliveries: controls.webhookDeliveries() }),
  );
  app.post('/__sim/reset', (c) => {
    controls.reset();
    return c.body(null, 204);
  });
  app.get('/__sim/orders', (c) => c.json({ orders: controls.orders(), counts: controls.counts() }));
  return app;
}
