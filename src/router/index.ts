/**
 * The router: nginx location matching over a tree compiled once, and URI normalisation.
 * Pure functions; generic over what a location holds.
 *
 *   compileLocationTree(specs)          → LocationTree<T>
 *   matchLocation(tree, uri)            → { location, captures, redirect } | null
 *   findNamedLocation(tree, "@name")    → T | null
 *   normalizeUri(rawPath, {mergeSlashes}) → { uri } | { status: 400, error }
 */
export { compileLocationTree } from "./tree.js";
export type {
  LocationLevel,
  LocationModifier,
  LocationNode,
  LocationSpec,
  LocationTree,
} from "./tree.js";
export { findNamedLocation, matchLocation } from "./match.js";
export type { LocationMatch, RegexCaptures } from "./match.js";
export { normalizeUri } from "./normalize.js";
export type { NormalizeOptions, NormalizeResult } from "./normalize.js";
