import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { createReferenceSigner } from './reference.ts';

describe('return URL references', () => {
  const signer = createReferenceSigner('k'.repeat(40));
  const id = randomUUID();

  it('round-trips a booking id', () => {
    expect(signer.verify(signer.sign(id))).toBe(id);
  });

  it('refuses forged, altered, foreign or empty references', () => {
    const ref = signer.sign(id);
    expect(signer.verify(`${randomUUID()}.${ref.split('.')[1]}`)).toBeNull();
    expect(signer.verify(`${ref.slice(0, -1)}${ref.endsWith('A') ? 'B' : 'A'}`)).toBeNull();
    expect(signer.verify(createReferenceSigner('other-key'.repeat(5)).sign(id))).toBeNull();
    expect(signer.verify(id)).toBeNull();
    expect(signer.verify('')).toBeNull();
    expect(signer.verify(undefined)).toBeNull();
  });
});

describe('the shape of a reference', () => {
  const signer = createReferenceSigner('k'.repeat(40));
  const id = randomUUID();

  it('refuses anything after the signature: exactly "<booking id>.<mac>"', () => {
    const ref = signer.sign(id);
    for (const tail of ['.', '.extra', '.x.y', `.${ref.split('.')[1]}`])
      expect(signer.verify(`${ref}${tail}`)).toBeNull();
  });
});
