import { BoxofficeError } from './errors.ts';
import type { StoredTokens, TokenStore } from './token-store.ts';

/** The session fields of a sign-in or refresh answer. */
export type IssuedTokens = { accessToken: string; expiresIn: number; refreshToken: string; refreshExpiresAt: string };

export function storedTokensOf(issued: IssuedTokens, now = Date.now()): StoredTokens {
  return {
    accessToken: issued.accessToken,
    refreshToken: issued.refreshToken,
    accessTokenExpiresAt: new Date(now + issued.expiresIn * 1000).toISOString(),
    refreshTokenExpiresAt: issued.refreshExpiresAt,
  };
}

export function sessionEnded(cause?: unknown): BoxofficeError {
  return new BoxofficeError({
    code: 'UNAUTHENTICATED',
    status: 401,
    message: 'The session has ended (signed out, expired or revoked): sign in again',
    ...(cause instanceof BoxofficeError ? { details: { reason: cause.code }, cause } : {}),
  });
}

/** A refusal of the refresh token itself: no retry can help, the user has to sign in again. */
function refreshRefused(error: unknown): boolean {
  return error instanceof BoxofficeError && (error.status === 401 || error.code === 'VALIDATION_FAILED');
}

/**
 * Replaces an expired access token, once per token: every call that was refused the same token
 * waits for the same refresh, including calls refused after it finished, so parallel calls make
 * one refresh request and a refresh never triggers another.
 */
export function createTokenRenewal(store: TokenStore, refresh: (refreshToken: string) => Promise<IssuedTokens>) {
  let renewal: { from: string; promise: Promise<string> } | undefined;

  async function renewFrom(stale: string): Promise<string> {
    const current = await store.get();
    if (!current) throw sessionEnded();
    // another call (or another tab sharing the store) has already replaced it
    if (current.accessToken !== stale) return current.accessToken;
    let issued: IssuedTokens;
    try {
      issued = await refresh(current.refreshToken);
    } catch (error) {
      if (!refreshRefused(error)) throw error;
      // signed in again meanwhile: that session is not the one that ended
      if ((await store.get())?.refreshToken === current.refreshToken) await store.set(null);
      throw sessionEnded(error);
    }
    if ((await store.get())?.refreshToken === current.refreshToken) await store.set(storedTokensOf(issued));
    return issued.accessToken;
  }

  return {
    /** A working access token in place of `stale`, which the server refused. */
    renew(stale: string): Promise<string> {
      if (renewal?.from !== stale) {
        const attempt = { from: stale, promise: renewFrom(stale) };
        renewal = attempt;
        // a refresh that failed for a passing reason (the network) may be tried again by the next call
        attempt.promise.catch((error: unknown) => {
          if (renewal === attempt && !(error instanceof BoxofficeError && error.code === 'UNAUTHENTICATED'))
            renewal = undefined;
        });
      }
      return renewal.promise;
    },
  };
}
