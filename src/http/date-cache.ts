/** The `Date` header value (RFC 9110 §6.6.1, IMF-fixdate), computed at most once per second. */
let cachedSecond = -1;
let cachedValue = "";

export function httpDate(now: number = Date.now()): string {
  const s = Math.floor(now / 1000);
  if (s !== cachedSecond) {
    cachedSecond = s;
    cachedValue = new Date(s * 1000).toUTCString();
  }
  return cachedValue;
}
