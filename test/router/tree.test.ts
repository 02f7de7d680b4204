/** The router is generic over what a location holds: plain strings here, no config. */
import { test } from "node:test";
import assert from "node:assert/strict";
import {
  compileLocationTree,
  findNamedLocation,
  matchLocation,
  type LocationSpec,
} from "../../src/router/index.js";

function loc(
  modifier: LocationSpec<string>["modifier"],
  name: string,
  children: LocationSpec<string>[] = [],
  autoRedirect = false,
): LocationSpec<string> {
  const regex =
    modifier === "~" ? new RegExp(name) : modifier === "~*" ? new RegExp(name, "i") : null;
  return { modifier, name, regex, autoRedirect, value: `${modifier}${name}`, children };
}

const tree = compileLocationTree([
  loc("", "/"),
  loc("", "/a/", [loc("~", "\\.x$"), loc("", "/a/b/")]),
  loc("~*", "\\.X$"),
  loc("=", "/a/"),
  loc("", "/p/", [], true),
  loc("@", "@n"),
]);

void test("generic tree: exact, longest prefix, nested, regex order, named, redirect", () => {
  const at = (uri: string) => matchLocation(tree, uri)?.location ?? null;
  assert.equal(at("/a/"), "=/a/");
  assert.equal(at("/a/b/c"), "/a/b/");
  assert.equal(at("/a/b/c.x"), "~\\.x$");
  assert.equal(at("/z.X"), "~*\\.X$");
  assert.equal(at("/z.x"), "~*\\.X$");
  assert.equal(at("/z"), "/");
  assert.equal(matchLocation(tree, "/p")?.redirect, true);
  assert.equal(matchLocation(tree, "/p/")?.redirect, false);
  assert.equal(findNamedLocation(tree, "@n"), "@@n");
  assert.equal(at("@n"), null);
});

void test("an empty tree matches nothing", () => {
  const empty = compileLocationTree<number>([]);
  assert.equal(matchLocation(empty, "/"), null);
  assert.equal(findNamedLocation(empty, "@x"), null);
});

void test("prefix comparison is by code unit and case-sensitive, like nginx on Linux", () => {
  const t = compileLocationTree([loc("", "/Static/"), loc("", "/")]);
  assert.equal(matchLocation(t, "/static/x")?.location, "/");
  assert.equal(matchLocation(t, "/Static/x")?.location, "/Static/");
});

void test("matches without captures are shared; regex captures are each search's own", () => {
  const a = matchLocation(tree, "/a/b/c")!;
  assert.equal(matchLocation(tree, "/a/b/d"), a);
  assert.deepEqual(a.captures.numbered, []);
  assert.equal(a.redirect, false);
  const p = matchLocation(tree, "/p")!;
  assert.equal(p.redirect, true);
  assert.equal(p.location, "/p/");
  // The redirect answer does not leak into a plain match of the same location.
  assert.equal(matchLocation(tree, "/p/q")!.redirect, false);
  const r1 = matchLocation(tree, "/one.X")!;
  const r2 = matchLocation(tree, "/two.X")!;
  assert.notEqual(r1, r2);
  assert.deepEqual(r1.captures.numbered, [".X"]);
  assert.deepEqual(r2.captures.numbered, [".X"]);
  // A search that finds nothing leaves nothing behind for the next one.
  const bare = compileLocationTree([loc("", "/only/")]);
  assert.equal(matchLocation(bare, "/other"), null);
  assert.equal(matchLocation(bare, "/only/x")?.location, "/only/");
});

void test("a level without auto_redirect never answers a redirect", () => {
  const t = compileLocationTree([loc("", "/d/"), loc("=", "/e/"), loc("", "/")]);
  assert.equal(matchLocation(t, "/d")?.redirect, false);
  assert.equal(matchLocation(t, "/d")?.location, "/");
  assert.equal(matchLocation(t, "/e")?.location, "/");
  const withExact = compileLocationTree([loc("=", "/e/", [], true), loc("", "/")]);
  assert.equal(matchLocation(withExact, "/e")?.redirect, true);
});
