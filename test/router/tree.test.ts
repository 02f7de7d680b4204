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
