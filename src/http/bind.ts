/** `--bind` addresses as Gunicorn spells them: `HOST:PORT`, `[V6]:PORT`, `HOST` (port 8000), `unix:PATH`. */
import { ConfigError } from "../core/errors.js";

export type BindAddress =
  { kind: "tcp"; host: string; port: number } | { kind: "unix"; path: string };

/**
 * @example parseBind("[::]:8000") → { kind: "tcp", host: "::", port: 8000 }
 */
export function parseBind(spec: string): BindAddress {
  const s = spec.trim();
  if (s.startsWith("unix:")) {
    const path = s.slice(5);
    if (path === "")
      throw new ConfigError(`invalid bind ${JSON.stringify(spec)}: empty socket path`);
    return { kind: "unix", path };
  }
  let host: string;
  let portText: string | undefined;
  if (s.startsWith("[")) {
    const close = s.indexOf("]");
    if (close < 0) throw new ConfigError(`invalid bind ${JSON.stringify(spec)}: missing "]"`);
    host = s.slice(1, close);
    const rest = s.slice(close + 1);
    if (rest !== "" && !rest.startsWith(":"))
      throw new ConfigError(`invalid bind ${JSON.stringify(spec)}`);
    portText = rest === "" ? undefined : rest.slice(1);
  } else {
    const i = s.lastIndexOf(":");
    if (i >= 0 && s.indexOf(":") !== i)
      throw new ConfigError(`invalid bind ${JSON.stringify(spec)}: put IPv6 addresses in brackets`);
    host = i >= 0 ? s.slice(0, i) : s;
    portText = i >= 0 ? s.slice(i + 1) : undefined;
  }
  if (host === "") host = "0.0.0.0";
  const port = portText === undefined ? 8000 : Number(portText);
  if (portText !== undefined && (!/^[0-9]{1,5}$/.test(portText) || port > 65535)) {
    throw new ConfigError(`invalid bind ${JSON.stringify(spec)}: bad port`);
  }
  return { kind: "tcp", host, port };
}
