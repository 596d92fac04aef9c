import { randomBytes } from 'node:crypto';
import type { PayPalSimulator } from '@boxoffice/paypal-simulator';
import type { Config } from '../../config.ts';
import { type CertificateTrust, PAYPAL_CERT_PREFIXES } from './verifier.ts';

export type WebhookSettings = { webhookId: string; trust: CertificateTrust } | null;

/**
 * Whose certificates a webhook may be signed with, and for which webhook id:
 * - offline mode (the in-process simulator): the simulator's own certificate, pinned, and nothing
 *   else; the webhook id is PAYPAL_WEBHOOK_ID or one made for this process;
 * - PAYPAL_API_BASE_URL (a standalone simulator or another compatible server, trusted for all
 *   payment data already): certificates served under that base URL;
 * - real PayPal: certificates from PayPal's own hosts for PAYPAL_ENV, over https, which must
 *   chain to a public root. Null without PAYPAL_WEBHOOK_ID: webhooks are then refused (503).
 */
export function resolveWebhookSettings(config: Config, simulator: PayPalSimulator | null): WebhookSettings {
  if (simulator)
    return {
      webhookId: config.PAYPAL_WEBHOOK_ID ?? `SIM${randomBytes(12).toString('hex').toUpperCase()}`,
      trust: {
        prefixes: [],
        requirePayPalChain: false,
        pinned: { url: simulator.webhookCertificateUrl, pem: simulator.webhookCertificatePem },
      },
    };
  if (!config.PAYPAL_WEBHOOK_ID) return null;
  if (config.PAYPAL_API_BASE_URL)
    return {
      webhookId: config.PAYPAL_WEBHOOK_ID,
      trust: {
        prefixes: [`${config.PAYPAL_API_BASE_URL.replace(/\/+$/, '')}/v1/notifications/certs/`],
        requirePayPalChain: false,
      },
    };
  return {
    webhookId: config.PAYPAL_WEBHOOK_ID,
    trust: { prefixes: PAYPAL_CERT_PREFIXES[config.PAYPAL_ENV], requirePayPalChain: true },
  };
}
