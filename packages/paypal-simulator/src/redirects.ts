/**
 * Where the approval page may send a buyer. Real PayPal sends the buyer to whatever return_url the
 * merchant gave; a simulator on a public host must not, or it becomes an open redirect on that host.
 * So return and cancel URLs must sit under one of the allowed prefixes, checked when the order is
 * created and again before each redirect.
 */

type Prefix = { origin: string; path: string };

function parsePrefix(prefix: string): Prefix {
  const url = new URL(prefix);
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new TypeError(`allowed redirect prefix must be an http(s) URL: ${prefix}`);
  }
  if (url.username || url.password || url.search || url.hash) {
    throw new TypeError(`allowed redirect prefix must be origin and path only: ${prefix}`);
  }
  return { origin: url.origin, path: url.pathname };
}

export function createRedirectPolicy(initial: readonly string[]) {
  const prefixes: Prefix[] = initial.map(parsePrefix);
  return {
    allow(prefix: string) {
      const parsed = parsePrefix(prefix);
      if (!prefixes.some((p) => p.origin === parsed.origin && p.path === parsed.path)) prefixes.push(parsed);
    },
    list: () => prefixes.map((p) => `${p.origin}${p.path === '/' ? '' : p.path}`),
    /**
     * Compares what a browser would navigate to (the parsed URL, dot segments resolved): same origin
     * and a path equal to the prefix's or below it at a segment boundary, with no credentials.
     */
    allows(value: string): boolean {
      let url: URL;
      try {
        url = new URL(value);
      } catch {
        return false;
      }
      if (url.username || url.password) return false;
      return prefixes.some(({ origin, path }) => {
        if (url.origin !== origin) return false;
        if (path === '/' || url.pathname === path) return true;
        return url.pathname.startsWith(path.endsWith('/') ? path : `${path}/`);
      });
    },
  };
}

export type RedirectPolicy = ReturnType<typeof createRedirectPolicy>;

/** Adds PayPal's redirect parameters without re-encoding what the merchant's URL already carries. */
export function appendQuery(url: string, params: Record<string, string>): string {
  const hashAt = url.indexOf('#');
  const base = hashAt === -1 ? url : url.slice(0, hashAt);
  const fragment = hashAt === -1 ? '' : url.slice(hashAt);
  const query = Object.entries(params)
    .map(([key, value]) => `${encodeURIComponent(key)}=${encodeURIComponent(value)}`)
    .join('&');
  const separator = !base.includes('?') ? '?' : base.endsWith('?') || base.endsWith('&') ? '' : '&';
  return `${base}${separator}${query}${fragment}`;
}
