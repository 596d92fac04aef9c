import { randomUUID } from 'node:crypto';
import {
  DomainError,
  type LoginInput,
  type RegisterInput,
  type Session,
  type User as UserDto,
} from '@boxoffice/contracts';
import { type EntityManager, RefreshToken, User } from '@boxoffice/db';
import { LockMode, UniqueConstraintViolationException } from '@mikro-orm/core';
import type { Clock } from '../../lib/clock.ts';
import { burnPasswordCheck, hashPassword, isCommonPassword, verifyPassword } from './password.ts';
import type { AuthUser, RefreshTokenIssue, TokenService } from './tokens.ts';

export type AuthDeps = { em: EntityManager; tokens: TokenService; clock: Clock };

export function toUserDto(user: User): UserDto {
  return {
    id: user.id,
    email: user.email,
    username: user.username,
    role: user.role,
    createdAt: user.createdAt.toISOString(),
  };
}

export async function registerUser({ em }: Pick<AuthDeps, 'em'>, input: RegisterInput): Promise<UserDto> {
  // the contract refuses short ones and ones made of the account's own name; this, the well-known ones
  if (isCommonPassword(input.password))
    throw new DomainError('VALIDATION_FAILED', 'Invalid input: password', {
      issues: [
        {
          path: 'password',
          message: 'This password is one of the most commonly used ones; choose another',
          code: 'common_password',
        },
      ],
    });
  const existing = await em.findOne(User, { email: input.email });
  if (existing) throw new DomainError('EMAIL_TAKEN', 'An account with this email already exists', { field: 'email' });
  const passwordHash = await hashPassword(input.password);
  // role is never taken from input: registration always makes a plain user
  const user = em.create(User, {
    id: randomUUID(),
    email: input.email,
    username: input.username,
    passwordHash,
    role: 'user',
  });
  try {
    await em.flush();
  } catch (error) {
    // two registrations racing for one email: the unique index decides
    if (error instanceof UniqueConstraintViolationException)
      throw new DomainError('EMAIL_TAKEN', 'An account with this email already exists', { field: 'email' });
    throw error;
  }
  return toUserDto(user);
}

/** A fresh access token beside the given refresh token. */
async function sessionWith(
  deps: AuthDeps,
  user: User,
  refresh: Pick<RefreshTokenIssue, 'token' | 'expiresAt'>,
): Promise<Session> {
  return {
    tokenType: 'Bearer',
    accessToken: await deps.tokens.signAccess({ id: user.id, role: user.role }),
    expiresIn: deps.tokens.accessTtlSeconds,
    refreshToken: refresh.token,
    refreshExpiresAt: refresh.expiresAt.toISOString(),
    user: toUserDto(user),
  };
}

async function issueSession(
  deps: AuthDeps,
  user: User,
  familyId: string,
  refresh: RefreshTokenIssue = deps.tokens.newRefreshToken(),
): Promise<Session> {
  deps.em.create(RefreshToken, {
    id: randomUUID(),
    userId: user.id,
    familyId,
    tokenHash: refresh.hash,
    expiresAt: refresh.expiresAt,
  });
  await deps.em.flush();
  return sessionWith(deps, user, refresh);
}

const invalidCredentials = () => new DomainError('INVALID_CREDENTIALS', 'Email or password is incorrect');

export async function login(deps: AuthDeps, input: LoginInput): Promise<Session> {
  const user = await deps.em.findOne(User, { email: input.email }, { populate: ['passwordHash'] });
  if (!user) {
    await burnPasswordCheck(input.password);
    throw invalidCredentials();
  }
  if (!(await verifyPassword(user.passwordHash, input.password))) throw invalidCredentials();
  return issueSession(deps, user, randomUUID());
}

const invalidRefresh = () => new DomainError('INVALID_TOKEN', 'Refresh token is invalid, expired or revoked');

async function revokeFamily(em: EntityManager, familyId: string, now: Date): Promise<void> {
  await em.nativeUpdate(RefreshToken, { familyId, revokedAt: null }, { revokedAt: now });
}

/**
 * Rotates a refresh token. Presenting one that was already rotated means it leaked: the whole
 * family is revoked, so the thief's and the owner's newer tokens both stop working. Except just
 * after the rotation (the grace window): a client firing several refreshes at once, or retrying
 * one whose answer it lost, gets the same successor again, as long as that is still unused.
 */
export async function refreshSession(deps: AuthDeps, refreshToken: string): Promise<Session> {
  const now = deps.clock.now();
  const tokenHash = deps.tokens.hashRefreshToken(refreshToken);
  const outcome = await deps.em.transactional(async (em) => {
    // the row lock serialises concurrent rotations of the same token: one rotates, the rest see it used
    const row = await em.findOne(RefreshToken, { tokenHash }, { lockMode: LockMode.PESSIMISTIC_WRITE });
    if (!row) return { kind: 'invalid' as const };
    if (row.usedAt && !row.revokedAt && now.getTime() - row.usedAt.getTime() < deps.tokens.refreshGraceMs) {
      const successor = deps.tokens.successorOf(refreshToken);
      const next = await em.findOne(RefreshToken, { tokenHash: successor.hash, familyId: row.familyId });
      const user = await em.findOne(User, { id: row.userId });
      if (!next || next.usedAt || next.revokedAt || next.expiresAt <= now || !user) return { kind: 'invalid' as const };
      return {
        kind: 'ok' as const,
        session: await sessionWith(deps, user, { token: successor.token, expiresAt: next.expiresAt }),
      };
    }
    if (row.usedAt || row.revokedAt) {
      await revokeFamily(em, row.familyId, now);
      return { kind: 'reused' as const };
    }
    if (row.expiresAt <= now) return { kind: 'invalid' as const };
    row.usedAt = now;
    const user = await em.findOne(User, { id: row.userId });
    if (!user) return { kind: 'invalid' as const };
    return {
      kind: 'ok' as const,
      session: await issueSession({ ...deps, em }, user, row.familyId, deps.tokens.successorOf(refreshToken)),
    };
  });
  if (outcome.kind !== 'ok') throw invalidRefresh();
  return outcome.session;
}

/** Revokes the refresh token's whole family. Unknown tokens are accepted silently. */
export async function logout(deps: AuthDeps, refreshToken: string): Promise<void> {
  const row = await deps.em.findOne(RefreshToken, { tokenHash: deps.tokens.hashRefreshToken(refreshToken) });
  if (row) await revokeFamily(deps.em, row.familyId, deps.clock.now());
}

export async function getMe({ em }: Pick<AuthDeps, 'em'>, actor: AuthUser): Promise<UserDto> {
  const user = await em.findOne(User, { id: actor.id });
  if (!user) throw new DomainError('INVALID_TOKEN', 'The account behind this token no longer exists');
  return toUserDto(user);
}

export type AdminSeed = { email: string; username: string; password: string };

/** Creates the admin from configuration if no user has that email; never changes an existing one. */
export async function ensureAdmin(em: EntityManager, seed: AdminSeed): Promise<'created' | 'exists'> {
  const email = seed.email.trim().toLowerCase();
  const passwordHash = await hashPassword(seed.password);
  const rows = await em.execute<{ id: string }[]>(
    `INSERT INTO users (id, email, username, password_hash, role) VALUES (?, ?, ?, ?, 'admin')
     ON CONFLICT (email) DO NOTHING RETURNING id`,
    [randomUUID(), email, seed.username, passwordHash],
  );
  return rows.length > 0 ? 'created' : 'exists';
}
