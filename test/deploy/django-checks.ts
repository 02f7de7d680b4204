/**
 * What "the article's deployment works" means over HTTP, shared by every layout (narwhal
 * or Gunicorn behind narwhal's front, and the one-process mode): Django pages through the
 * front, Host reaching Django, the admin's CSS from disk, and an admin login with its CSRF
 * cookie and session.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { fetchLocal, type DjangoSite, type Reply } from "./harness.js";

/** name=value of every Set-Cookie, for the next request's Cookie header. */
export function cookies(r: Reply, jar: Map<string, string> = new Map()): Map<string, string> {
  for (const line of r.headers["set-cookie"] ?? []) {
    const pair = line.split(";")[0] ?? "";
    const eq = pair.indexOf("=");
    if (eq > 0) jar.set(pair.slice(0, eq), pair.slice(eq + 1));
  }
  return jar;
}

export function cookieHeader(jar: Map<string, string>): string {
  return [...jar].map(([k, v]) => `${k}=${v}`).join("; ");
}

/** The admin login page through the front: Django's HTML, linking the admin CSS. */
export async function checkLoginPage(port: number): Promise<void> {
  const r = await fetchLocal(port, "/admin/login/", { headers: { Host: "localhost" } });
  assert.equal(r.status, 200, r.text);
  assert.equal(r.headers["content-type"], "text/html; charset=utf-8");
  assert.match(r.text, /<title>Log in \| Django site admin<\/title>/);
  assert.match(r.text, /<link rel="stylesheet" href="\/static\/admin\/css\/base\.css">/);
  assert.ok(cookies(r).has("csrftoken"), "Django's CSRF cookie reaches the client");
  // APPEND_SLASH's redirect: Django sends a relative Location; proxy_redirect off leaves
  // it alone, and the front makes it absolute from Host and the listen port as nginx's
  // header filter does (absolute_redirect and port_in_redirect are on by default).
  const slash = await fetchLocal(port, "/admin", { headers: { Host: "localhost" } });
  assert.equal(slash.status, 301);
  assert.equal(slash.headers["location"], `http://localhost:${port}/admin/`);
}

/**
 * `proxy_set_header Host $host`: Django sees the client's Host, so ALLOWED_HOSTS
 * (localhost,127.0.0.1) accepts localhost with any port and refuses another name with
 * Django's own 400 (with $proxy_host it would see "server_django" and refuse them all).
 */
export async function checkHostReachesDjango(port: number): Promise<void> {
  const ok = await fetchLocal(port, "/", { headers: { Host: `localhost:${port}` } });
  assert.equal(ok.status, 200, ok.text);
  const bad = await fetchLocal(port, "/", { headers: { Host: "shop.example.org" } });
  assert.equal(bad.status, 400);
  assert.match(bad.text, /Bad Request \(400\)/, "Django's DisallowedHost page, not the front's");
}

/** /static/ from STATIC_ROOT with the right types; a missing file is the front's 404. */
export async function checkStatic(port: number, dj: DjangoSite): Promise<void> {
  const css = await fetchLocal(port, "/static/admin/css/base.css", {
    headers: { Host: "localhost" },
  });
  assert.equal(css.status, 200);
  assert.equal(css.headers["content-type"], "text/css");
  assert.deepEqual(css.body, readFileSync(join(dj.staticRoot, "admin/css/base.css")));
  assert.ok(css.headers["etag"], "static files carry an ETag");
  assert.ok(css.headers["last-modified"]);
  const js = await fetchLocal(port, "/static/admin/js/core.js", { headers: { Host: "localhost" } });
  assert.equal(js.status, 200);
  assert.match(js.headers["content-type"] ?? "", /^(application|text)\/javascript/);
  const svg = await fetchLocal(port, "/static/admin/img/icon-yes.svg", {
    headers: { Host: "localhost" },
  });
  assert.equal(svg.status, 200);
  assert.equal(svg.headers["content-type"], "image/svg+xml");
  const missing = await fetchLocal(port, "/static/admin/css/nope.css", {
    headers: { Host: "localhost" },
  });
  assert.equal(missing.status, 404);
  assert.doesNotMatch(
    missing.text,
    /The requested resource was not found on this server/,
    "not Django's 404",
  );
  assert.match(missing.text, /404 Not Found/);
}

/**
 * The admin login form POSTed as a browser would (CSRF cookie and token, and the
 * browser's Origin and Host when given); returns the reply and the cookies so far.
 */
export async function postLogin(
  port: number,
  dj: DjangoSite,
  browser: { host: string; origin?: string } = { host: "localhost" },
): Promise<{ post: Reply; jar: Map<string, string> }> {
  const host = { Host: browser.host };
  const page = await fetchLocal(port, "/admin/login/?next=/admin/", { headers: host });
  assert.equal(page.status, 200);
  const jar = cookies(page);
  const token = /name="csrfmiddlewaretoken" value="([^"]+)"/.exec(page.text)?.[1];
  assert.ok(token, "the login form carries a CSRF token");
  const form = new URLSearchParams({
    csrfmiddlewaretoken: token,
    username: dj.user,
    password: dj.password,
    next: "/admin/",
  }).toString();
  const post = await fetchLocal(port, "/admin/login/?next=/admin/", {
    method: "POST",
    headers: {
      ...host,
      ...(browser.origin !== undefined ? { Origin: browser.origin } : {}),
      "Content-Type": "application/x-www-form-urlencoded",
      Cookie: cookieHeader(jar),
    },
    body: form,
  });
  cookies(post, jar);
  return { post, jar };
}

/** Log in to the admin with the test's superuser: CSRF token, POST, session, index. */
export async function checkAdminLogin(port: number, dj: DjangoSite): Promise<void> {
  const { post, jar } = await postLogin(port, dj);
  assert.equal(post.status, 302, post.text);
  assert.equal(post.headers["location"], `http://localhost:${port}/admin/`);
  assert.ok(jar.has("sessionid"), "logged in: a session cookie");
  const index = await fetchLocal(port, "/admin/", {
    headers: { Host: "localhost", Cookie: cookieHeader(jar) },
  });
  assert.equal(index.status, 200);
  assert.match(index.text, /Site administration/);
  assert.match(index.text, new RegExp(`Welcome,\\s*<strong>${dj.user}</strong>`));
}
