import { verify as verifySignature, X509Certificate } from 'node:crypto';
import { rootCertificates } from 'node:tls';
import { crc32 } from 'node:zlib';
import type { Clock } from '../../lib/clock.ts';
import type { Logger } from '../../logger.ts';

/**
 * Checks that a webhook delivery comes from PayPal, unaltered and meant for our webhook, before
 * anything else looks at it. PayPal signs `transmissionId|transmissionTime|webhookId|crc32(body)`
 * (the CRC32 of the raw body bytes, in decimal) with SHA256withRSA; the PAYPAL-CERT-URL header
 * says where the certificate with the public key is. Since the sender chooses that URL, it is
 * fetched only when it lies under a trusted prefix (PayPal's own hosts, over https), without
 * following redirects, with a timeout and a size limit, and cached; a certificate known in advance
 * (offline mode: the simulator's own) is pinned and never fetched. A certificate from PayPal must
 * also be a current PayPal message-verification certificate that chains to a public root.
 */

/** PayPal's certificate hosts, by environment: the only places a real PayPal certificate is fetched from. */
export const PAYPAL_CERT_PREFIXES = {
  live: ['https://api.paypal.com/v1/notifications/certs/', 'https://api-m.paypal.com/v1/notifications/certs/'],
  sandbox: [
    'https://api.sandbox.paypal.com/v1/notifications/certs/',
    'https://api-m.sandbox.paypal.com/v1/notifications/certs/',
  ],
} as const;

export type CertificateTrust = {
  /**
   * Certificate URLs must lie directly under one of these (scheme, host, port and path compared
   * after parsing, so dot segments and encodings cannot step outside).
   */
  prefixes: readonly string[];
  /** Real PayPal: the certificate must name messageverificationcerts*.paypal.com and chain to a public root. */
  requirePayPalChain: boolean;
  /** A certificate trusted for exactly this URL without fetching it (the in-process simulator's). */
  pinned?: { url: string; pem: string };
};

export type WebhookVerifierOptions = {
  webhookId: string;
  trust: CertificateTrust;
  clock: Clock;
  log: Logger;
  /** Only for tests; production uses the global fetch. */
  fetch?: typeof fetch;
  timeoutMs?: number;
  maxCertificateBytes?: number;
  cacheTtlMs?: number;
};

/**
 * `invalid`: not from PayPal, altered, or not for us: answer 400 and never retry.
 * `unavailable`: PayPal's certificate could not be fetched right now: answer 5xx so PayPal retries.
 */
export class WebhookVerificationError extends Error {
  readonly kind: 'invalid' | 'unavailable';
  readonly reason: string;
  constructor(kind: 'invalid' | 'unavailable', reason: string) {
    super(`webhook ${kind === 'invalid' ? 'refused' : 'not verifiable now'}: ${reason}`);
    this.name = 'WebhookVerificationError';
    this.kind = kind;
    this.reason = reason;
  }
}

export type VerifiedTransmission = { transmissionId: string; transmissionTime: string; certUrl: string };

export type WebhookVerifier = {
  verify(headers: Headers, rawBody: Uint8Array): Promise<VerifiedTransmission>;
};

const AUTH_ALGO = 'SHA256withRSA';
const TRANSMISSION_ID = /^[\w-]{1,100}$/;
const SIGNATURE = /^[A-Za-z0-9+/]{16,1024}={0,2}$/;
const CERT_NAME = /^[A-Za-z0-9._-]{1,128}$/;
const MAX_CACHED = 32;
const REFUSED_TTL_MS = 10 * 60_000;

const invalid = (reason: string) => new WebhookVerificationError('invalid', reason);
const unavailable = (reason: string) => new WebhookVerificationError('unavailable', reason);

type Prefix = { protocol: string; host: string; path: string };

function parsePrefix(prefix: string): Prefix {
  const url = new URL(prefix);
  if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new TypeError(`not an http(s) prefix: ${prefix}`);
  return {
    protocol: url.protocol,
    host: url.host,
    path: url.pathname.endsWith('/') ? url.pathname : `${url.pathname}/`,
  };
}

/** The parsed certificate URL if it lies directly under a trusted prefix; null otherwise (nothing is fetched). */
export function trustedCertificateUrl(raw: string, prefixes: readonly string[]): URL | null {
  if (raw.length > 500 || !URL.canParse(raw)) return null;
  const url = new URL(raw);
  if (url.username || url.password || url.search || url.hash || raw.includes('%') || raw.includes('\\')) return null;
  for (const prefix of prefixes.map(parsePrefix)) {
    if (url.protocol !== prefix.protocol || url.host !== prefix.host || !url.pathname.startsWith(prefix.path)) continue;
    if (CERT_NAME.test(url.pathname.slice(prefix.path.length))) return url;
  }
  return null;
}

function commonNames(cert: X509Certificate): string[] {
  return cert.subject
    .split('\n')
    .filter((part) => part.startsWith('CN='))
    .map((part) => part.slice(3));
}

/** PEM bundle → certificates, leaf first. */
function parseBundle(pem: string): X509Certificate[] {
  const blocks = pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
  if (blocks.length === 0 || blocks.length > 5) throw invalid('certificate_unreadable');
  try {
    return blocks.map((block) => new X509Certificate(block));
  } catch {
    throw invalid('certificate_unreadable');
  }
}

let trustedRoots: X509Certificate[] | undefined;
function publicRoots(): X509Certificate[] {
  trustedRoots ??= rootCertificates.flatMap((pem) => {
    try {
      return [new X509Certificate(pem)];
    } catch {
      return [];
    }
  });
  return trustedRoots;
}

const issuedBy = (child: X509Certificate, parent: X509Certificate) =>
  child.checkIssued(parent) && child.verify(parent.publicKey);

/**
 * The rule PayPal's own SDKs applied to the signing certificate: a message-verification
 * certificate of paypal.com, current, whose chain (as PayPal serves it) ends at a public root.
 */
function checkPayPalChain(chain: X509Certificate[], now: Date) {
  const [leaf] = chain;
  if (!leaf) throw invalid('certificate_unreadable');
  if (!commonNames(leaf).some((cn) => cn.startsWith('messageverificationcerts') && cn.endsWith('.paypal.com')))
    throw invalid('certificate_not_paypal');
  for (const cert of chain)
    if (cert.validFromDate > now || cert.validToDate < now) throw invalid('certificate_expired');
  for (let i = 0; i + 1 < chain.length; i++)
    if (!issuedBy(chain[i] as X509Certificate, chain[i + 1] as X509Certificate))
      throw invalid('certificate_chain_broken');
  const last = chain[chain.length - 1] as X509Certificate;
  const roots = publicRoots();
  const anchored =
    roots.some((root) => root.fingerprint256 === last.fingerprint256) || roots.some((root) => issuedBy(last, root));
  if (!anchored) throw invalid('certificate_untrusted');
}

async function readCapped(response: Response, maxBytes: number): Promise<string> {
  const declared = Number(response.headers.get('content-length') ?? '0');
  if (declared > maxBytes) throw invalid('certificate_too_large');
  const reader = response.body?.getReader();
  if (!reader) return '';
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > maxBytes) {
      await reader.cancel();
      throw invalid('certificate_too_large');
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks).toString('utf8');
}

export function createWebhookVerifier(opts: WebhookVerifierOptions): WebhookVerifier {
  const doFetch: typeof fetch = opts.fetch ?? ((input, init) => fetch(input, init));
  const timeoutMs = opts.timeoutMs ?? 5000;
  const maxBytes = opts.maxCertificateBytes ?? 16 * 1024;
  const cacheTtlMs = opts.cacheTtlMs ?? 24 * 3_600_000;
  const { trust, clock, log } = opts;
  const cache = new Map<string, { chain: X509Certificate[]; fetchedAt: number }>();
  // a certificate name PayPal refused is not asked for again soon: forged names cannot make us fetch in a loop
  const refused = new Map<string, { error: WebhookVerificationError; at: number }>();
  const fetching = new Map<string, Promise<X509Certificate[]>>();
  const pinned = trust.pinned
    ? { url: new URL(trust.pinned.url).toString(), chain: parseBundle(trust.pinned.pem) }
    : null;

  async function download(url: URL): Promise<X509Certificate[]> {
    let response: Response;
    try {
      response = await doFetch(url, {
        redirect: 'manual',
        signal: AbortSignal.timeout(timeoutMs),
        headers: { accept: 'application/x-pem-file, text/plain' },
      });
    } catch (error) {
      log.warn({ err: error, certUrl: url.toString() }, 'PayPal webhook certificate could not be fetched');
      throw unavailable('certificate_unreachable');
    }
    // a redirect could lead anywhere (a metadata endpoint, an internal host): never followed
    if (response.status >= 300 && response.status < 400) {
      await response.body?.cancel();
      throw invalid('certificate_redirected');
    }
    if (response.status >= 500 || response.status === 429) {
      await response.body?.cancel();
      throw unavailable(`certificate_http_${response.status}`);
    }
    if (response.status !== 200) {
      await response.body?.cancel();
      throw invalid(`certificate_http_${response.status}`);
    }
    const chain = parseBundle(await readCapped(response, maxBytes));
    if (trust.requirePayPalChain) checkPayPalChain(chain, clock.now());
    return chain;
  }

  /** Cached per URL (PayPal's certificate URLs name one certificate each); parallel misses fetch once. */
  async function certificateFor(url: URL): Promise<X509Certificate[]> {
    const key = url.toString();
    if (pinned && key === pinned.url) return pinned.chain;
    const now = clock.now().getTime();
    const cached = cache.get(key);
    if (cached && now - cached.fetchedAt < cacheTtlMs) return cached.chain;
    const known = refused.get(key);
    if (known && now - known.at < REFUSED_TTL_MS) throw known.error;
    let running = fetching.get(key);
    if (!running) {
      running = download(url).finally(() => fetching.delete(key));
      fetching.set(key, running);
    }
    let chain: X509Certificate[];
    try {
      chain = await running;
    } catch (error) {
      if (error instanceof WebhookVerificationError && error.kind === 'invalid') {
        if (refused.size >= MAX_CACHED * 8) refused.delete(refused.keys().next().value as string);
        refused.set(key, { error, at: now });
      }
      throw error;
    }
    if (cache.size >= MAX_CACHED) cache.delete(cache.keys().next().value as string);
    cache.set(key, { chain, fetchedAt: now });
    return chain;
  }

  return {
    async verify(headers, rawBody) {
      const transmissionId = headers.get('paypal-transmission-id') ?? '';
      const transmissionTime = headers.get('paypal-transmission-time') ?? '';
      const signature = headers.get('paypal-transmission-sig') ?? '';
      const certUrl = headers.get('paypal-cert-url') ?? '';
      const algo = headers.get('paypal-auth-algo') ?? '';
      if (!transmissionId || !transmissionTime || !signature || !certUrl || !algo) throw invalid('headers_missing');
      if (!TRANSMISSION_ID.test(transmissionId)) throw invalid('transmission_id_malformed');
      if (transmissionTime.length > 40 || Number.isNaN(Date.parse(transmissionTime)))
        throw invalid('transmission_time_malformed');
      if (!SIGNATURE.test(signature)) throw invalid('signature_malformed');
      if (algo !== AUTH_ALGO) throw invalid('auth_algo_unsupported');
      const isPinned = pinned !== null && certUrl.length <= 500 && certUrl === pinned.url;
      const url = isPinned ? new URL(certUrl) : trustedCertificateUrl(certUrl, trust.prefixes);
      if (!url) throw invalid('certificate_url_not_trusted');
      const chain = await certificateFor(url);
      const leaf = chain[0] as X509Certificate;
      const now = clock.now();
      if (leaf.validFromDate > now || leaf.validToDate < now) throw invalid('certificate_expired');
      const signed = Buffer.from(`${transmissionId}|${transmissionTime}|${opts.webhookId}|${crc32(rawBody)}`);
      let valid = false;
      try {
        valid = verifySignature('sha256', signed, leaf.publicKey, Buffer.from(signature, 'base64'));
      } catch {
        valid = false;
      }
      if (!valid) throw invalid('signature_mismatch');
      return { transmissionId, transmissionTime, certUrl };
    },
  };
}
