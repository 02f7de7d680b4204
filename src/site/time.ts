/** nginx's time variables: $time_local, $time_iso8601, $msec (ngx_times.c). */

const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

function p2(n: number): string {
  return String(n).padStart(2, "0");
}

/** "+0100" / "-0530" for the process's local time zone at `d`. */
function offset(d: Date, colon: boolean): string {
  const off = -d.getTimezoneOffset();
  const sign = off < 0 ? "-" : "+";
  const a = Math.abs(off);
  return `${sign}${p2(Math.floor(a / 60))}${colon ? ":" : ""}${p2(a % 60)}`;
}

/** @example timeLocal(new Date(0)) // "01/Jan/1970:00:00:00 +0000" (in UTC) */
export function timeLocal(d: Date): string {
  return `${p2(d.getDate())}/${MONTHS[d.getMonth()]!}/${d.getFullYear()}:${p2(d.getHours())}:${p2(d.getMinutes())}:${p2(d.getSeconds())} ${offset(d, false)}`;
}

/** @example timeIso8601(new Date(0)) // "1970-01-01T00:00:00+00:00" (in UTC) */
export function timeIso8601(d: Date): string {
  return `${d.getFullYear()}-${p2(d.getMonth() + 1)}-${p2(d.getDate())}T${p2(d.getHours())}:${p2(d.getMinutes())}:${p2(d.getSeconds())}${offset(d, true)}`;
}

/** Seconds with millisecond resolution: "1700000000.123". */
export function msec(ms: number): string {
  return (ms / 1000).toFixed(3);
}

/** A formatter of the current time, run at most once per wall-clock second. */
function perSecond(format: (d: Date) => string): () => string {
  let second = -1;
  let text = "";
  return () => {
    const now = Date.now();
    const s = Math.floor(now / 1000);
    if (s !== second) {
      second = s;
      text = format(new Date(now));
    }
    return text;
  };
}

/** $time_local now (formatted once per second, as nginx's cached time strings). */
export const timeLocalNow = perSecond(timeLocal);

/** $time_iso8601 now. */
export const timeIso8601Now = perSecond(timeIso8601);
