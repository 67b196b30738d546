import type { ConnectRouter } from "@connectrpc/connect";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { Leases } from "../../gen/containerd/services/leases/v1/leases_pb.js";
import type { LeaseService } from "../leases/service.js";
import type { Lease } from "../leases/sql-store.js";
import { requiredNamespace } from "./namespace.js";

const leaseToWire = (lease: Lease) => ({ ...lease, createdAt: timestampFromDate(lease.createdAt) });

/** containerd.services.leases.v1.Leases: Create, Delete, List (what ctr uses). */
export function leasesRoutes(leases: LeaseService) {
  return (router: ConnectRouter) =>
    router.service(Leases, {
      async create(request, ctx) {
        return { lease: leaseToWire(await leases.create(requiredNamespace(ctx), request.id, { ...request.labels })) };
      },
      async delete(request, ctx) {
        await leases.delete(requiredNamespace(ctx), request.id);
        return {};
      },
      async list(request, ctx) {
        return { leases: (await leases.list(requiredNamespace(ctx), request.filters)).map(leaseToWire) };
      },
    });
}
