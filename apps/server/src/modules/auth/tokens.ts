import { createHmac, randomBytes, randomUUID } from 'node:crypto';
import { DomainError, type Role } from '@boxoffice/contracts';
import { errors as joseErrors, jwtVerify, SignJWT } from 'jose';
import type { Clock } from '../../lib/clock.ts';

export const TOKEN_ISSUER = 'boxoffice';
export const TOKEN_AUDIENCE = 'boxoffice-api';
const ACCESS_TOKEN_TYPE = 'at+jwt';

export type AuthUser = { id: string; role: Role };

export type TokenServiceOptions = {
  jwtSecret: string;
  algorithm: 'HS256' | 'HS384' | 'HS512';
  refreshKey: string;
  accessTtlMinutes: number;
  refreshTtlDays: number;
  /** How long after a rotation the rotated token still gets the same successor (parallel refreshes). */
  refreshGraceSeconds?: number;
  clock: Clock;
};

export type RefreshTokenIssue = { token: string; hash: string; expiresAt: Date };

/** Signs and verifies access tokens (JWT) and mints opaque refresh tokens stored only as keyed hashes. */
export class TokenService {
  private readonly secret: Uint8Array<ArrayBuffer>;
  private readonly opts: TokenServiceOptions;
  /**
   * The secret as a WebCrypto key, imported once: given the raw bytes, jose imports them again on
   * every call, half of what verifying a token costs.
   */
  private key: Promise<CryptoKey> | undefined;

  constructor(opts: TokenServiceOptions) {
    this.opts = opts;
    this.secret = new TextEncoder().encode(opts.jwtSecret);
  }

  private hmacKey(): Promise<CryptoKey> {
    this.key ??= crypto.subtle.importKey(
      'raw',
      this.secret,
      { name: 'HMAC', hash: `SHA-${this.opts.algorithm.slice(2)}` },
      false,
      ['sign', 'verify'],
    );
    return this.key;
  }

  get accessTtlSeconds(): number {
    return this.opts.accessTtlMinutes * 60;
  }

  async signAccess(user: AuthUser): Promise<string> {
    const nowSeconds = Math.floor(this.opts.clock.now().getTime() / 1000);
    return new SignJWT({ role: user.role })
      .setProtectedHeader({ alg: this.opts.algorithm, typ: ACCESS_TOKEN_TYPE })
      .setSubject(user.id)
      .setIssuer(TOKEN_ISSUER)
      .setAudience(TOKEN_AUDIENCE)
      .setIssuedAt(nowSeconds)
      .setExpirationTime(nowSeconds + this.accessTtlSeconds)
      .setJti(randomUUID())
      .sign(await this.hmacKey());
  }

  /** Pins algorithm, issuer, audience and type; requires exp, sub and jti. Anything else is INVALID_TOKEN. */
  async verifyAccess(token: string): Promise<AuthUser> {
    try {
      const { payload } = await jwtVerify(token, await this.hmacKey(), {
        algorithms: [this.opts.algorithm],
        issuer: TOKEN_ISSUER,
        audience: TOKEN_AUDIENCE,
        typ: ACCESS_TOKEN_TYPE,
        requiredClaims: ['exp', 'sub', 'jti', 'iat'],
        currentDate: this.opts.clock.now(),
      });
      const role = payload.role;
      if ((role !== 'admin' && role !== 'user') || typeof payload.sub !== 'string') throw new Error('bad claims');
      return { id: payload.sub, role };
    } catch (error) {
      const expired = error instanceof joseErrors.JWTExpired;
      throw new DomainError('INVALID_TOKEN', expired ? 'Access token expired' : 'Invalid access token');
    }
  }

  get refreshGraceMs(): number {
    return (this.opts.refreshGraceSeconds ?? 10) * 1000;
  }

  newRefreshToken(): RefreshTokenIssue {
    const token = `rt_${randomBytes(32).toString('base64url')}`;
    const expiresAt = new Date(this.opts.clock.now().getTime() + this.opts.refreshTtlDays * 86_400_000);
    return { token, hash: this.hashRefreshToken(token), expiresAt };
  }

  /**
   * The token that replaces `previous` when it rotates. Derived from it under a server key rather
   * than drawn at random, so a second rotation of the same token moments later (a client's
   * parallel requests, a retry after a lost answer) can be answered with the same successor
   * without storing any token in the clear. Unguessable without the key, like a random one.
   */
  successorOf(previous: string): RefreshTokenIssue {
    const key = createHmac('sha256', this.opts.refreshKey).update('boxoffice:refresh-successor').digest();
    const token = `rt_${createHmac('sha256', key).update(previous).digest('base64url')}`;
    const expiresAt = new Date(this.opts.clock.now().getTime() + this.opts.refreshTtlDays * 86_400_000);
    return { token, hash: this.hashRefreshToken(token), expiresAt };
  }

  /** A key for another purpose (e.g. signing payment references), derived so it never equals the JWT key. */
  derivedKey(purpose: string): string {
    return createHmac('sha256', this.opts.jwtSecret).update(`boxoffice:${purpose}`).digest('base64url');
  }

  hashRefreshToken(token: string): string {
    return createHmac('sha256', this.opts.refreshKey).update(token).digest('base64url');
  }
}
