import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { type Context, Hono } from 'hono';
import type { Operation, SimEnv } from './operations.ts';
import type { Clock } from './state.ts';
import { isoTime } from './state.ts';
import { paypalError } from './wire.ts';

/**
 * PayPal's client-credentials grant. The merchant API answers only bearer tokens handed out here,
 * and tokens are handed out only for the merchant's client id and secret.
 */

export type MerchantCredentials = { clientId: string; clientSecret: string };

/** Fresh merchant credentials: the id is an identifier, the secret 256 random bits. */
export function generateCredentials(): MerchantCredentials {
  return {
    clientId: `sim-${randomBytes(12).toString('base64url')}`,
    clientSecret: randomBytes(32).toString('base64url'),
  };
}

function sameSecret(given: string, expected: string): boolean {
  const a = createHash('sha256').update(given).digest();
  const b = createHash('sha256').update(expected).digest();
  return timingSafeEqual(a, b);
}

export function createTokens(opts: { clock: Clock; ttlSeconds: number }) {
  const issued = new Map<string, number>();
  const nowMs = () => opts.clock.now().getTime();
  return {
    ttlSeconds: opts.ttlSeconds,
    issue(): string {
      const token = `A21AA${randomBytes(48).toString('base64url')}`;
      for (const [known, expiresAt] of issued) if (expiresAt <= nowMs()) issued.delete(known);
      issued.set(token, nowMs() + opts.ttlSeconds * 1000);
      return token;
    },
    /** The 401 PayPal answers for a missing, unknown or expired bearer token; null when it is valid. */
    bearerFailure(c: Context): Response | null {
      const match = /^Bearer\s+(\S+)$/i.exec(c.req.header('authorization') ?? '');
      if (!match?.[1]) return paypalError(c, 401);
      const expiresAt = issued.get(match[1]);
      if (expiresAt === undefined || expiresAt <= nowMs()) {
        return c.json({ error: 'invalid_token', error_description: 'Access Token not found in cache' }, 401);
      }
      return null;
    },
    revokeAll() {
      issued.clear();
    },
  };
}

export type Tokens = ReturnType<typeof createTokens>;

export function oauthRoutes(deps: {
  credentials: MerchantCredentials;
  tokens: Tokens;
  operation: Operation;
  clock: Clock;
}): Hono<SimEnv> {
  const { credentials, tokens, clock } = deps;
  const app = new Hono<SimEnv>();
  app.post(
    '/v1/oauth2/token',
    deps.operation('token', false, async (c) => {
      const match = /^Basic\s+(\S+)$/i.exec(c.req.header('authorization') ?? '');
      const decoded = match?.[1] ? Buffer.from(match[1], 'base64').toString('utf8') : '';
      const colon = decoded.indexOf(':');
      const givenId = colon === -1 ? '' : decoded.slice(0, colon);
      const givenSecret = colon === -1 ? '' : decoded.slice(colon + 1);
      // both compared, always: which half was wrong is not revealed by timing
      const idMatches = sameSecret(givenId, credentials.clientId);
      const secretMatches = sameSecret(givenSecret, credentials.clientSecret);
      if (!idMatches || !secretMatches) {
        return c.json({ error: 'invalid_client', error_description: 'Client Authentication failed' }, 401);
      }
      const form = new URLSearchParams(await c.req.text());
      const grant = form.get('grant_type');
      if (grant !== 'client_credentials') {
        return c.json(
          {
            error: 'unsupported_grant_type',
            error_description: grant ? 'Grant Type is not supported' : 'Grant Type is NULL',
          },
          400,
        );
      }
      return c.json({
        scope: 'https://uri.paypal.com/services/payments/payment https://uri.paypal.com/services/payments/refund',
        access_token: tokens.issue(),
        token_type: 'Bearer',
        app_id: 'APP-80W284485P519543T',
        expires_in: tokens.ttlSeconds,
        nonce: `${isoTime(clock)}${randomBytes(16).toString('base64url')}`,
      });
    }),
  );
  return app;
}
