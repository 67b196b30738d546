import type { Filter, Selector } from "./parse.js";

/** Returns the field's value, or undefined when the field is absent. */
export type FieldAdaptor = (fieldpath: readonly string[]) => string | undefined;

export function matches(filter: Filter, field: FieldAdaptor): boolean {
  return filter.anyOf.some((all) => all.every((selector) => matchSelector(selector, field)));
}

// As in containerd, an absent field reads as "" for != and ~=, so `a!=x`
// matches objects without `a` and `a~=^$` does too.
function matchSelector(selector: Selector, field: FieldAdaptor): boolean {
  const value = field(selector.fieldpath);
  switch (selector.operator) {
    case undefined:
      return value !== undefined;
    case "==":
      return value === selector.value;
    case "!=":
      return (value ?? "") !== selector.value;
    case "~=":
      return selector.regexp.test(value ?? "");
  }
}
