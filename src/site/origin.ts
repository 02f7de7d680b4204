/** scheme://host[:port] of a request, for absolute redirects (nginx's port_in_redirect on). */
import type { RequestState } from "./state.js";

/** @example requestOrigin(st) // "http://example.com:8080" */
export function requestOrigin(st: RequestState): string {
  const c = st.req.connection;
  const scheme = st.req.scheme;
  const lookup = st.lookup;
  // server_name_in_redirect on: the primary server name; off (default): $host.
  let host = st.conf.server_name_in_redirect
    ? (st.server.serverNameText[0] ?? "")
    : (lookup("host") ?? "");
  if (host === "")
    host = c.family === "unix" ? "localhost" : (lookup("server_addr") ?? "localhost");
  if (c.family === "unix") return `${scheme}://${host}`;
  const port = c.localPort;
  const dflt = scheme === "https" ? 443 : 80;
  return `${scheme}://${host}${port === dflt ? "" : ":" + String(port)}`;
}
