import { createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject, sign, verify } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';

/**
 * Ticket codes: what a ticket's QR code holds. Hand-written on node:crypto because the format is
 * ours to keep small for a QR code (a JWS would be twice the size): base64url of
 *
 *   version (1 byte, = 1) | ticket id (16 bytes) | event id (16 bytes) | Ed25519 signature (64 bytes)
 *
 * where the signature covers the first 33 bytes. Ed25519 is deterministic, so a ticket's code is
 * the same every time it is made and need not be stored. A scanner verifies it with the public key
 * alone (checkin.export gives it), offline.
 */
const VERSION = 1;
const PAYLOAD_BYTES = 33;
const SIGNATURE_BYTES = 64;

export type TicketCodeClaims = { ticketId: string; eventId: string };

function uuidBytes(id: string): Buffer {
  const hex = id.replace(/-/g, '');
  if (!/^[0-9a-f]{32}$/i.test(hex)) throw new TypeError(`not a uuid: ${id}`);
  return Buffer.from(hex, 'hex');
}

function uuidOf(bytes: Buffer): string {
  const hex = bytes.toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

export type TicketSigner = {
  code(claims: TicketCodeClaims): string;
  /** SPKI DER, base64: what a scanner needs to verify codes. */
  publicKeyBase64: string;
  publicKey: KeyObject;
};

export function createTicketSigner(privateKeyPkcs8Base64: string): TicketSigner {
  const privateKey = createPrivateKey({
    key: Buffer.from(privateKeyPkcs8Base64, 'base64'),
    format: 'der',
    type: 'pkcs8',
  });
  if (privateKey.asymmetricKeyType !== 'ed25519') throw new TypeError('the ticket signing key must be Ed25519');
  const publicKey = createPublicKey(privateKey);
  return {
    code: ({ ticketId, eventId }) => {
      const payload = Buffer.concat([Buffer.from([VERSION]), uuidBytes(ticketId), uuidBytes(eventId)]);
      return Buffer.concat([payload, sign(null, payload, privateKey)]).toString('base64url');
    },
    publicKeyBase64: publicKey.export({ format: 'der', type: 'spki' }).toString('base64'),
    publicKey,
  };
}

/** The public key from its SPKI DER base64 form (as checkin.export hands it out). */
export function ticketPublicKey(spkiBase64: string): KeyObject {
  return createPublicKey({ key: Buffer.from(spkiBase64, 'base64'), format: 'der', type: 'spki' });
}

/**
 * What a code claims, if the public key's owner signed it; null for anything else. The code must be
 * the canonical encoding of its bytes: base64url's last character carries spare bits a decoder
 * ignores, and a code with one character changed is a different code, never the same ticket.
 */
export function verifyTicketCode(code: string, publicKey: KeyObject): TicketCodeClaims | null {
  if (!/^[A-Za-z0-9_-]{1,200}$/.test(code)) return null;
  const bytes = Buffer.from(code, 'base64url');
  if (bytes.length !== PAYLOAD_BYTES + SIGNATURE_BYTES || bytes.toString('base64url') !== code) return null;
  if (bytes[0] !== VERSION) return null;
  const payload = bytes.subarray(0, PAYLOAD_BYTES);
  if (!verify(null, payload, publicKey, bytes.subarray(PAYLOAD_BYTES))) return null;
  return { ticketId: uuidOf(bytes.subarray(1, 17)), eventId: uuidOf(bytes.subarray(17, 33)) };
}

/** A fresh Ed25519 private key, PKCS8 DER in base64 (the form TICKET_SIGNING_KEY takes). */
export function generateTicketSigningKey(): string {
  const { privateKey } = generateKeyPairSync('ed25519');
  return privateKey.export({ format: 'der', type: 'pkcs8' }).toString('base64');
}

export function devTicketKeyPath(dataDir: string): string {
  return path.join(path.resolve(dataDir), 'ticket-signing-key');
}

/**
 * The signing key: TICKET_SIGNING_KEY when set (production requires it); in development one
 * generated once into the data folder (mode 600), so tickets stay valid across restarts; in tests
 * a fresh one per server.
 */
export async function resolveTicketSigningKey(config: {
  TICKET_SIGNING_KEY?: string | undefined;
  NODE_ENV: string;
  DATA_DIR: string;
}): Promise<{ key: string; source: 'env' | 'file' | 'ephemeral'; file?: string }> {
  if (config.TICKET_SIGNING_KEY) return { key: config.TICKET_SIGNING_KEY, source: 'env' };
  if (config.NODE_ENV === 'test') return { key: generateTicketSigningKey(), source: 'ephemeral' };
  const file = devTicketKeyPath(config.DATA_DIR);
  if (existsSync(file)) return { key: (await readFile(file, 'utf8')).trim(), source: 'file', file };
  const key = generateTicketSigningKey();
  await mkdir(path.dirname(file), { recursive: true });
  await writeFile(file, `${key}\n`, { mode: 0o600 });
  return { key, source: 'file', file };
}
