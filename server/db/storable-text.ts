/** Postgres text cannot hold NUL, and a lone surrogate has no UTF-8 form. */
export function isStorableText(s: string): boolean {
  return s.isWellFormed() && !s.includes("\u0000");
}
