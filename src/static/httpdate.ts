/**
 * HTTP-date (RFC 9110 §5.6.7): generate IMF-fixdate, accept all three historical forms.
 * Times are whole seconds since the epoch, as nginx keeps them (`time_t`).
 */

const MONTHS: Readonly<Record<string, number>> = {
  Jan: 0,
  Feb: 1,
  Mar: 2,
  Apr: 3,
  May: 4,
  Jun: 5,
  Jul: 6,
  Aug: 7,
  Sep: 8,
  Oct: 9,
  Nov: 10,
  Dec: 11,
};

/** `Thu, 26 Nov 2026 23:25:16 GMT` for a time in seconds. */
export function formatHttpDate(seconds: number): string {
  return new Date(seconds * 1000).toUTCString();
}

// IMF-fixdate: Sun, 06 Nov 1994 08:49:37 GMT
const IMF =
  /^(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun), (\d\d) ([A-Z][a-z]{2}) (\d{4}) (\d\d):(\d\d):(\d\d) GMT$/;
// obsolete RFC 850: Sunday, 06-Nov-94 08:49:37 GMT
const RFC850 =
  /^(?:Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday), (\d\d)-([A-Z][a-z]{2})-(\d\d) (\d\d):(\d\d):(\d\d) GMT$/;
// obsolete asctime: Sun Nov  6 08:49:37 1994
const ASCTIME =
  /^(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun) ([A-Z][a-z]{2}) ([ \d]\d) (\d\d):(\d\d):(\d\d) (\d{4})$/;

function build(
  day: string,
  mon: string,
  year: number,
  h: string,
  m: string,
  s: string,
): number | null {
  const month = MONTHS[mon];
  if (month === undefined) return null;
  const d = Number(day.trim());
  const hh = Number(h);
  const mm = Number(m);
  const ss = Number(s);
  if (d < 1 || d > 31 || hh > 23 || mm > 59 || ss > 60) return null;
  const t = Date.UTC(year, month, d, hh, mm, ss === 60 ? 59 : ss);
  // Reject dates like 31 Feb that Date.UTC silently rolls over.
  if (new Date(t).getUTCDate() !== d) return null;
  return Math.floor(t / 1000);
}

/**
 * Parse an HTTP-date; null when invalid (RFC 9110 §13.1.3/§13.1.4: an invalid date makes
 * the precondition be ignored). The weekday is not cross-checked, as nginx does not.
 */
export function parseHttpDate(value: string): number | null {
  const v = value.trim();
  let m = IMF.exec(v);
  if (m !== null) return build(m[1]!, m[2]!, Number(m[3]), m[4]!, m[5]!, m[6]!);
  m = RFC850.exec(v);
  if (m !== null) {
    // RFC 9110 §5.6.7: a two-digit year more than 50 years in the future is in the past century.
    let year = 1900 + Number(m[3]);
    if (year < 1970) year += 100;
    return build(m[1]!, m[2]!, year, m[4]!, m[5]!, m[6]!);
  }
  m = ASCTIME.exec(v);
  if (m !== null) return build(m[2]!, m[1]!, Number(m[6]), m[3]!, m[4]!, m[5]!);
  return null;
}
