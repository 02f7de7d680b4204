// A fixture tree for the static tests, in a fresh temp dir.
import {
  mkdtempSync,
  mkdirSync,
  writeFileSync,
  symlinkSync,
  utimesSync,
  rmSync,
  realpathSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gzipSync } from "node:zlib";

export const SECRET = "TOP-SECRET-7f3a";

export interface Fixture {
  readonly base: string;
  readonly root: string;
  readonly app: string;
  readonly hello: string;
  readonly big: Buffer;
  readonly page: string;
  readonly cssGz: Buffer;
  readonly mtime: number;
  cleanup(): void;
}

/**
 * base/
 *   secret.txt, secret/secret.txt           (outside every root)
 *   www/                                     (root)
 *     hello.txt, index.html, page.html, style.css (+ .gz), big.bin (2 MiB), big.txt,
 *     empty.txt, dir/index.html, nodir/a.txt, .env, .git/config, .well-known/x.txt,
 *     link-in -> hello.txt, link-out -> ../secret.txt, linkdir-out -> ../secret,
 *     "sp ace/é.txt"
 *   app/static/ (alias target: app.css), app/secret.txt
 */
export function makeFixture(): Fixture {
  const base = realpathSync(mkdtempSync(join(tmpdir(), "narwhal-static-")));
  const root = join(base, "www");
  const app = join(base, "app");
  const w = (p: string, data: string | Buffer): void => {
    writeFileSync(join(base, p), data);
  };
  for (const d of [
    "www",
    "www/dir",
    "www/nodir",
    "www/.git",
    "www/.well-known",
    "www/sp ace",
    "secret",
    "app",
    "app/static",
  ]) {
    mkdirSync(join(base, d));
  }
  w("secret.txt", SECRET);
  w("secret/secret.txt", SECRET);
  w("app/secret.txt", SECRET);
  w("app/static/app.css", "body{}\n");
  const hello = "Hello, static world!\n";
  w("www/hello.txt", hello);
  w("www/index.html", "<h1>home</h1>\n");
  const page = "<html><body>" + "narwhal ".repeat(500) + "</body></html>\n";
  w("www/page.html", page);
  w("www/style.css", "p { color: red; }\n".repeat(20));
  const cssGz = gzipSync(Buffer.from("PRECOMPRESSED VARIANT\n"));
  w("www/style.css.gz", cssGz);
  const big = Buffer.alloc(2 * 1024 * 1024);
  for (let i = 0; i < big.length; i++) big[i] = (i * 7 + (i >> 10)) & 0xff;
  w("www/big.bin", big);
  w("www/big.txt", "line of text for gzip streaming\n".repeat(8192));
  w("www/empty.txt", "");
  w("www/dir/index.html", "<p>dir index</p>\n");
  w("www/nodir/a.txt", "a\n");
  w("www/.env", SECRET);
  w("www/.git/config", SECRET);
  w("www/.well-known/x.txt", "well known\n");
  w("www/sp ace/é.txt", "utf8 name\n");
  symlinkSync("hello.txt", join(root, "link-in"));
  symlinkSync("../secret.txt", join(root, "link-out"));
  symlinkSync("../secret", join(root, "linkdir-out"));
  // A fixed mtime so validators are predictable.
  const mtime = 1_700_000_000;
  for (const f of [
    "hello.txt",
    "index.html",
    "page.html",
    "style.css",
    "style.css.gz",
    "big.bin",
    "big.txt",
    "empty.txt",
  ]) {
    utimesSync(join(root, f), mtime, mtime);
  }
  return {
    base,
    root,
    app,
    hello,
    big,
    page,
    cssGz,
    mtime,
    cleanup: () => {
      rmSync(base, { recursive: true, force: true });
    },
  };
}
