import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { createTicketSigner, generateTicketSigningKey, ticketPublicKey, verifyTicketCode } from './ticket-code.ts';

const signer = createTicketSigner(generateTicketSigningKey());
const claims = { ticketId: randomUUID(), eventId: randomUUID() };
const code = signer.code(claims);

describe('ticket codes', () => {
  it('are compact, deterministic, and verify with the public key alone', () => {
    expect(code).toMatch(/^[A-Za-z0-9_-]{130}$/);
    expect(signer.code(claims)).toBe(code);
    expect(verifyTicketCode(code, ticketPublicKey(signer.publicKeyBase64))).toEqual(claims);
  });

  it('any one changed character makes the code invalid, the last one too', () => {
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
    for (let i = 0; i < code.length; i++) {
      const current = code[i] as string;
      for (const replacement of [
        alphabet[(alphabet.indexOf(current) + 1) % 64],
        alphabet[(alphabet.indexOf(current) + 33) % 64],
      ]) {
        const changed = code.slice(0, i) + replacement + code.slice(i + 1);
        expect(verifyTicketCode(changed, signer.publicKey), `position ${i}`).toBeNull();
      }
    }
  });

  it('refuses another key’s codes and anything malformed', () => {
    const other = createTicketSigner(generateTicketSigningKey());
    expect(verifyTicketCode(other.code(claims), signer.publicKey)).toBeNull();
    for (const bad of [
      '',
      'x',
      `${code}A`,
      code.slice(0, -1),
      `${code.slice(0, 10)} ${code.slice(11)}`,
      '🎫'.repeat(10),
    ])
      expect(verifyTicketCode(bad, signer.publicKey)).toBeNull();
  });
});
