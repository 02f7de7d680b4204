/** nginx-like small HTML bodies for error responses, and the raw bytes of one sent before any request exists. */
import { reasonPhrase } from "../core/status.js";
import { httpDate } from "./date-cache.js";

/**
 * @example errorPage(400) starts with "<html>\r\n<head><title>400 Bad Request</title></head>"
 */
export function errorPage(status: number, server = "narwhal"): string {
  const title = `${status} ${reasonPhrase(status)}`;
  return `<html>\r\n<head><title>${title}</title></head>\r\n<body>\r\n<center><h1>${title}</h1></center>\r\n<hr><center>${server === "" ? "narwhal" : server}</center>\r\n</body>\r\n</html>\r\n`;
}

/** A complete `Connection: close` error response, as latin1 text. */
export function errorResponse(status: number, serverHeader: string, head = false): string {
  const body = errorPage(status, serverHeader);
  return (
    `HTTP/1.1 ${status} ${reasonPhrase(status)}\r\n` +
    (serverHeader === "" ? "" : `Server: ${serverHeader}\r\n`) +
    `Date: ${httpDate()}\r\nContent-Type: text/html\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n` +
    (head ? "" : body)
  );
}
