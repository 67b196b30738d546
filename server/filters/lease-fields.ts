import type { Lease } from "../leases/sql-store.js";
import { mapField, nonEmpty } from "./field-values.js";
import type { FieldAdaptor } from "./match.js";

/** Field paths of a lease, as containerd's: `id` and `labels.<key>`. */
export function leaseFields(lease: Lease): FieldAdaptor {
  return (fieldpath) => {
    if (fieldpath[0] === "id") return nonEmpty(lease.id);
    if (fieldpath[0] === "labels") return mapField(lease.labels, fieldpath.slice(1));
    return undefined;
  };
}
