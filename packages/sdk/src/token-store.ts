/** A signed-in session as the client keeps it. */
export type StoredTokens = {
  accessToken: string;
  refreshToken: string;
  /** When the access token stops working (ISO 8601); the client refreshes it when the server says so. */
  accessTokenExpiresAt: string;
  /** When the refresh token stops working (ISO 8601): after that, sign in again. */
  refreshTokenExpiresAt: string;
};

/**
 * Where the client keeps its session. `get` is called before every call, `set` after signing in,
 * refreshing (with the new tokens) and signing out (with `null`). Either may return a promise.
 */
export type TokenStore = {
  get(): StoredTokens | null | Promise<StoredTokens | null>;
  set(tokens: StoredTokens | null): void | Promise<void>;
};

/** Keeps the session in memory: it ends with the process or page. The default. */
export function memoryTokenStore(initial: StoredTokens | null = null): TokenStore {
  let tokens = initial;
  return {
    get: () => tokens,
    set: (next) => {
      tokens = next;
    },
  };
}

/** The part of the Web Storage API the store uses; `localStorage` and `sessionStorage` have it. */
export type KeyValueStorage = {
  getItem(key: string): string | null;
  setItem(key: string, value: string): void;
  removeItem(key: string): void;
};

function isStoredTokens(value: unknown): value is StoredTokens {
  const tokens = value as Partial<StoredTokens> | null;
  return (
    typeof tokens === 'object' &&
    tokens !== null &&
    typeof tokens.accessToken === 'string' &&
    typeof tokens.refreshToken === 'string' &&
    typeof tokens.accessTokenExpiresAt === 'string' &&
    typeof tokens.refreshTokenExpiresAt === 'string'
  );
}

/**
 * Keeps the session in `localStorage`, `sessionStorage` or anything with the same three methods,
 * as JSON under `key`, so it survives a reload and is shared by the tabs of one origin.
 * Whatever can read that storage can read the tokens; for HttpOnly cookies, keep the refresh
 * token on your own backend and write a TokenStore that talks to it.
 */
export function webStorageTokenStore(storage: KeyValueStorage, key = 'boxoffice.session'): TokenStore {
  return {
    get: () => {
      const raw = storage.getItem(key);
      if (raw === null) return null;
      try {
        const parsed: unknown = JSON.parse(raw);
        return isStoredTokens(parsed) ? parsed : null;
      } catch {
        return null;
      }
    },
    set: (tokens) => {
      if (tokens === null) storage.removeItem(key);
      else storage.setItem(key, JSON.stringify(tokens));
    },
  };
}
