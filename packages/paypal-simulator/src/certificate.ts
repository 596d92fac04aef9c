import { generateKeyPairSync, type KeyObject, randomBytes, sign, X509Certificate } from 'node:crypto';

/**
 * The simulator's webhook signing key and its certificate. PayPal signs each webhook with a private
 * key and publishes the certificate at the PAYPAL-CERT-URL it names; the simulator does the same
 * with a key pair made at start and a self-signed X.509 certificate built here, with the few DER
 * encodings a certificate needs (node:crypto signs, but does not write certificates).
 */

export type SigningIdentity = {
  privateKey: KeyObject;
  /** PEM, as PayPal serves it at the certificate URL. */
  certificatePem: string;
};

/** DER: tag, definite length, contents. */
function der(tag: number, ...parts: Buffer[]): Buffer {
  const body = Buffer.concat(parts);
  let length: Buffer;
  if (body.length < 0x80) length = Buffer.from([body.length]);
  else {
    const bytes: number[] = [];
    for (let n = body.length; n > 0; n = Math.floor(n / 256)) bytes.unshift(n % 256);
    length = Buffer.from([0x80 | bytes.length, ...bytes]);
  }
  return Buffer.concat([Buffer.from([tag]), length, body]);
}

const sequence = (...parts: Buffer[]) => der(0x30, ...parts);
const set = (...parts: Buffer[]) => der(0x31, ...parts);

/** A positive INTEGER from big-endian bytes (a leading zero keeps the sign bit clear). */
function integer(bytes: Buffer): Buffer {
  let start = 0;
  while (start < bytes.length - 1 && bytes[start] === 0) start += 1;
  const trimmed = bytes.subarray(start);
  return der(0x02, (trimmed[0] ?? 0) & 0x80 ? Buffer.concat([Buffer.from([0]), trimmed]) : trimmed);
}

function oid(dotted: string): Buffer {
  const [first = 0, second = 0, ...rest] = dotted.split('.').map(Number);
  const bytes = [40 * first + second];
  for (const arc of rest) {
    const chunk = [arc & 0x7f];
    for (let n = Math.floor(arc / 128); n > 0; n = Math.floor(n / 128)) chunk.unshift(0x80 | (n & 0x7f));
    bytes.push(...chunk);
  }
  return der(0x06, Buffer.from(bytes));
}

/** UTCTime before 2050, GeneralizedTime from then on (RFC 5280, 4.1.2.5). */
function time(date: Date): Buffer {
  const iso = date.toISOString().replace(/\.\d{3}Z$/, 'Z');
  const digits = iso.replace(/[-:T]/g, '');
  return date.getUTCFullYear() < 2050 ? der(0x17, Buffer.from(digits.slice(2))) : der(0x18, Buffer.from(digits));
}

const SHA256_WITH_RSA = sequence(oid('1.2.840.113549.1.1.11'), der(0x05));
const name = (commonName: string) => sequence(set(sequence(oid('2.5.4.3'), der(0x0c, Buffer.from(commonName)))));

/**
 * A fresh RSA key and a self-signed certificate for it, valid from a day before `now` for a year
 * (a simulator runs for days, not years).
 */
export function createSigningIdentity(opts: { commonName: string; now: Date }): SigningIdentity {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const issuer = name(opts.commonName);
  const notBefore = new Date(opts.now.getTime() - 86_400_000);
  const notAfter = new Date(opts.now.getTime() + 365 * 86_400_000);
  const tbs = sequence(
    der(0xa0, integer(Buffer.from([2]))), // v3
    integer(randomBytes(16)),
    SHA256_WITH_RSA,
    issuer,
    sequence(time(notBefore), time(notAfter)),
    issuer,
    publicKey.export({ type: 'spki', format: 'der' }),
  );
  const signature = sign('sha256', tbs, privateKey);
  const certificate = sequence(tbs, SHA256_WITH_RSA, der(0x03, Buffer.from([0]), signature));
  const lines = certificate.toString('base64').match(/.{1,64}/g) ?? [];
  const certificatePem = `-----BEGIN CERTIFICATE-----\n${lines.join('\n')}\n-----END CERTIFICATE-----\n`;
  // parsed once here, so a certificate node:crypto cannot read never leaves this function
  new X509Certificate(certificatePem);
  return { privateKey, certificatePem };
}
