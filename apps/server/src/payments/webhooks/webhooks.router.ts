import { DomainError } from '@boxoffice/contracts';
import { Hono, type Context as HonoContext } from 'hono';
import type { AppDeps } from '../../deps.ts';
import { errorBody, errorHeaders, toDomainError } from '../../errors.ts';
import { WebhookVerificationError, type WebhookVerifier } from './verifier.ts';
import { storeWebhookEvent, WebhookEventSchema } from './webhook-events.ts';

/**
 * `POST /webhooks/paypal`. The raw body is verified before anything else reads it; then the event
 * is stored once by its id and processed by a job. PayPal is told 400 for what is not from it (it
 * will not retry), 2xx once the event is stored (a duplicate included), and 5xx only when trying
 * again can help: the certificate could not be fetched, or the database could not store the event.
 */
export function paypalWebhookRoutes(deps: AppDeps, verifier: WebhookVerifier | null): Hono {
  const app = new Hono();

  const refuse = (c: HonoContext, error: DomainError) => {
    for (const [name, value] of Object.entries(errorHeaders(error))) c.header(name, value);
    return c.json(errorBody(error), error.status as 400);
  };

  app.post('/', async (c) => {
    if (!verifier) return refuse(c, new DomainError('WEBHOOK_NOT_CONFIGURED', 'PAYPAL_WEBHOOK_ID is not configured'));
    const raw = new Uint8Array(await c.req.arrayBuffer());
    let transmissionId: string;
    try {
      ({ transmissionId } = await verifier.verify(c.req.raw.headers, raw));
    } catch (error) {
      if (!(error instanceof WebhookVerificationError)) throw error;
      deps.log.warn({ reason: error.reason, kind: error.kind }, 'PayPal webhook not accepted');
      if (error.kind === 'unavailable')
        return refuse(c, new DomainError('PAYMENT_PROVIDER_ERROR', 'The webhook cannot be verified right now'));
      return refuse(
        c,
        new DomainError('WEBHOOK_SIGNATURE_INVALID', 'The webhook signature could not be verified', {
          reason: error.reason,
        }),
      );
    }
    let parsed: ReturnType<typeof WebhookEventSchema.safeParse>;
    try {
      parsed = WebhookEventSchema.safeParse(JSON.parse(Buffer.from(raw).toString('utf8')));
    } catch {
      return refuse(c, new DomainError('MALFORMED_REQUEST', 'The webhook body is not JSON'));
    }
    if (!parsed.success) return refuse(c, new DomainError('VALIDATION_FAILED', 'The webhook body is not an event'));
    try {
      const stored = await storeWebhookEvent(deps.orm.em.fork(), parsed.data, transmissionId, deps.clock.now());
      return c.json({ received: true, duplicate: stored === 'duplicate' });
    } catch (error) {
      deps.log.error({ err: error, eventId: parsed.data.id }, 'storing a PayPal webhook event failed');
      const domain = toDomainError(error);
      // PayPal delivers again: nothing is lost by answering 503
      return refuse(
        c,
        domain.code === 'INTERNAL' ? new DomainError('DATABASE_UNAVAILABLE', 'Try again later') : domain,
      );
    }
  });

  return app;
}
