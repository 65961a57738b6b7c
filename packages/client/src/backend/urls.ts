/**
 * The browser's WebSocket URL from the one setting an app keeps: the server's base
 * URL as the browser reaches it. Whatever form the setting takes (with or without
 * a trailing slash, `/api/v1` or `/api/v1/ws`, http(s) or ws(s)), the result ends in
 * exactly one `/api/v1/ws`, so a prefix can never be doubled.
 */

/** `https://example.com/tw` → `wss://example.com/tw/api/v1/ws`; `http://h:8080/api/v1/` → `ws://h:8080/api/v1/ws`. */
export function websocketUrl(base: string): string {
  const url = new URL(base);
  if (url.protocol === 'http:' || url.protocol === 'ws:') url.protocol = 'ws:';
  else if (url.protocol === 'https:' || url.protocol === 'wss:') url.protocol = 'wss:';
  else throw new Error(`websocketUrl: ${url.protocol} is not http(s) or ws(s)`);
  const path = url.pathname.replace(/\/+$/, '').replace(/\/api\/v1(\/ws)?$/, '');
  url.pathname = `${path}/api/v1/ws`;
  url.search = '';
  url.hash = '';
  return url.toString();
}
