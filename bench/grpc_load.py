#!/usr/bin/python3
"""Closed-loop gRPC load generator for one unary method over a unix socket.

Used by `npm run bench` for ours and containerd alike, so both servers see the
same client: Debian's python3-grpcio (the C-core), raw protobuf bytes in and
out (no protoc, no generated code, no response parsing).

Requests come pre-encoded from a file of [4-byte big-endian length][bytes]
records (written by bench/dataset.ts with the generated schemas).
`--pick random` draws from that pool with replacement (Get, Update, List);
`--pick sequential` uses each record once and stops when they run out (Create,
Delete: every call needs a name of its own).

Concurrency is N in-flight calls: N asyncio tasks (`--engine aio`, default) or
N threads (`--engine threads`), spread over `--channels` connections.
Measured calls are those completing inside the window that follows
`--warmup`. The window closes after `--duration` seconds, but not before
`--min-calls` calls completed in it (default: the concurrency, so a List that
takes longer than the window is still measured), or when a sequential pool
is used up. Every call's status is checked; errors are counted by code.

Prints one JSON object: calls, errors, rate, latency percentiles (ms), the
generator's own CPU use, the CPU used in the window by `--watch` pids (and
their descendants) and by Postgres backends of `--watch-pg-db`, the CPU the
rest of the machine used, and the CPU time the hypervisor took (steal).
"""

import argparse
import asyncio
import itertools
import json
import os
import random
import resource
import struct
import sys
import threading
import time

import grpc

CLK_TCK = os.sysconf("SC_CLK_TCK")
MAX_MESSAGE = 16 * 1024 * 1024  # containerd's limit; a List of 10,000 images is ~3 MB


def read_pool(path):
    data = open(path, "rb").read()
    pool, at = [], 0
    while at < len(data):
        (n,) = struct.unpack_from(">I", data, at)
        pool.append(data[at + 4 : at + 4 + n])
        at += 4 + n
    return pool


# ---- CPU accounting from /proc (jiffies -> seconds) ----

def proc_table():
    """pid -> (ppid, cpu seconds, cmdline) for every process."""
    table = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = open(f"/proc/{entry}/stat").read()
            cmd = open(f"/proc/{entry}/cmdline", "rb").read().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()
        table[int(entry)] = (int(fields[1]), (int(fields[11]) + int(fields[12])) / CLK_TCK, cmd)
    return table


def watched_cpu(roots, pg_db):
    """CPU seconds so far, per pid, of roots + descendants + Postgres backends of pg_db."""
    table = proc_table()
    chosen = set(p for p in roots if p in table)
    grew = True
    while grew:
        kids = {pid for pid, (ppid, _, _) in table.items() if ppid in chosen} - chosen
        chosen |= kids
        grew = bool(kids)
    if pg_db:
        chosen |= {pid for pid, (_, _, cmd) in table.items() if cmd.startswith("postgres:") and f" {pg_db} " in cmd}
    return {pid: table[pid][1] for pid in chosen}


def cpu_delta(before, after):
    # A pid that appeared during the window counts in full.
    return sum(cpu - before.get(pid, 0.0) for pid, cpu in after.items())


def machine_cpu():
    """CPU seconds of the whole machine so far: (busy, stolen).

    Busy is all but idle, iowait and steal; stolen (steal) is the time the
    hypervisor ran something else while this machine had work to run.
    """
    user, nice, system, idle, iowait, irq, softirq, steal = (int(x) for x in open("/proc/stat").readline().split()[1:9])
    return (user + nice + system + irq + softirq) / CLK_TCK, steal / CLK_TCK


def self_cpu():
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


# ---- the run ----

class Run:
    """Shared state of one run: the pool, the window, results and errors."""

    def __init__(self, args, pool):
        self.args, self.pool = args, pool
        self.metadata = (("containerd-namespace", args.namespace),)
        self.seq = itertools.count()  # next() is atomic under the GIL
        self.errors = {}
        self.sample = None
        self.start = time.perf_counter() + args.warmup
        self.deadline = self.start + args.duration
        # However slow the server, stop after this (calls also have --timeout).
        self.hard_deadline = self.deadline + max(60.0, 4 * args.duration)
        self.results = [[] for _ in range(args.concurrency)]  # per worker: (finished at, latency)
        self.closed = threading.Event()  # the measured window is over: start no more calls

    def take(self):
        if self.args.pick == "random":
            return random.choice(self.pool)
        i = next(self.seq)
        return self.pool[i] if i < len(self.pool) else None

    def issued(self):
        """Records handed out by a sequential pool."""
        return min(next(self.seq), len(self.pool)) if self.args.pick == "sequential" else 0

    def measured(self):
        return sum(len(r) for r in self.results)

    def done(self, response, t0, out):
        t1 = time.perf_counter()
        if t1 >= self.start:
            out.append((t1, t1 - t0))
        if self.sample is None:
            self.sample = response
        self.check_window(t1)

    def failed(self, error):
        code = error.code().name if isinstance(error, grpc.RpcError) else type(error).__name__
        self.errors[code] = self.errors.get(code, 0) + 1
        self.check_window(time.perf_counter())

    def check_window(self, now):
        # The window lasts --duration, and longer until --min-calls calls
        # completed in it (a List that takes longer than the window).
        if (now >= self.deadline and self.measured() >= self.args.min_calls) or now >= self.hard_deadline:
            self.closed.set()

    def window_end(self, stopped):
        """When the measured window ended: the deadline, the min-calls-th completion, or the pool running out."""
        times = sorted(t for r in self.results for (t, _) in r)
        if stopped < self.deadline:
            return stopped
        if sum(1 for t in times if t <= self.deadline) >= self.args.min_calls or not times:
            return self.deadline
        return times[min(self.args.min_calls, len(times)) - 1]


def channel_options(i):
    # A distinct option per channel gives each its own connection.
    return [("grpc.max_receive_message_length", MAX_MESSAGE), ("bench.channel", i)]


def run_threads(run):
    """N threads, each a blocking loop (calls in flight finish after the window)."""
    args = run.args
    chans = [grpc.insecure_channel("unix:" + args.socket, options=channel_options(i)) for i in range(args.channels)]
    stubs = [c.unary_unary(args.method) for c in chans]

    def worker(k):
        call, out = stubs[k % len(stubs)], run.results[k]
        while not run.closed.is_set():
            request = run.take()
            if request is None:
                return
            t0 = time.perf_counter()
            try:
                run.done(call(request, metadata=run.metadata, timeout=args.timeout), t0, out)
            except grpc.RpcError as e:
                run.failed(e)

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(args.concurrency)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for c in chans:
        c.close()


def run_aio(run):
    """N asyncio tasks on one event loop. Once the window closes, calls still in
    flight are cancelled, unless they use up a sequential pool (a cancelled
    Create may or may not have happened, and Delete must know)."""
    args = run.args

    async def worker(call, out):
        while not run.closed.is_set():
            request = run.take()
            if request is None:
                return
            t0 = time.perf_counter()
            try:
                run.done(await call(request, metadata=run.metadata, timeout=args.timeout), t0, out)
            except grpc.RpcError as e:
                run.failed(e)

    async def main():
        chans = [grpc.aio.insecure_channel("unix:" + args.socket, options=channel_options(i)) for i in range(args.channels)]
        calls = [c.unary_unary(args.method) for c in chans]
        tasks = [asyncio.create_task(worker(calls[k % len(calls)], run.results[k])) for k in range(args.concurrency)]
        while not run.closed.is_set() and not all(t.done() for t in tasks):
            await asyncio.sleep(0.005)
        if args.pick == "random":
            for t in tasks:
                t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for c in chans:
            await c.close()

    asyncio.run(main())


def percentile(sorted_values, q):
    if not sorted_values:
        return None
    return sorted_values[min(len(sorted_values) - 1, int(q * len(sorted_values)))]


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--socket", required=True)
    p.add_argument("--method", required=True, help="e.g. /containerd.services.images.v1.Images/Get")
    p.add_argument("--requests", required=True, help="file of length-prefixed request messages")
    p.add_argument("--namespace", required=True)
    p.add_argument("--concurrency", type=int, default=1)
    p.add_argument("--channels", type=int, default=0, help="connections (default: one per in-flight call, max 4)")
    p.add_argument("--duration", type=float, default=5.0, help="measured seconds")
    p.add_argument("--min-calls", type=int, default=0, help="keep measuring past --duration until this many calls completed (default: concurrency)")
    p.add_argument("--warmup", type=float, default=0.0, help="seconds before measuring")
    p.add_argument("--pick", choices=["random", "sequential"], default="random")
    p.add_argument("--engine", choices=["aio", "threads"], default="aio")
    p.add_argument("--timeout", type=float, default=60.0, help="per-call deadline, seconds")
    p.add_argument("--watch", default="", help="comma-separated server pids (descendants included)")
    p.add_argument("--watch-pg-db", default="", help="also count Postgres backends of this database")
    p.add_argument("--sample", default="", help="write one successful response's bytes here")
    args = p.parse_args()
    if args.channels <= 0:
        args.channels = min(args.concurrency, 4)
    if args.min_calls <= 0:
        args.min_calls = args.concurrency

    run = Run(args, read_pool(args.requests))
    roots = [int(x) for x in args.watch.split(",") if x]
    watching = bool(roots or args.watch_pg_db)

    # CPU snapshots (by a helper thread) at the window's start and when it closes.
    snaps = {}

    def snapshot():
        watched = watched_cpu(roots, args.watch_pg_db) if watching else {}
        return (time.perf_counter(), self_cpu(), watched, machine_cpu())

    def snapper():
        if not run.closed.wait(max(0.0, run.start - time.perf_counter())):
            snaps["start"] = snapshot()
        run.closed.wait()
        snaps["end"] = snapshot()

    helper = threading.Thread(target=snapper, daemon=True)
    helper.start()
    (run_aio if args.engine == "aio" else run_threads)(run)
    stopped = time.perf_counter()
    run.closed.set()  # the pool ran out (or every call failed until the hard deadline)
    helper.join()

    end_t, end_self, end_watched, end_machine = snaps["end"]
    start_t, start_self, start_watched, start_machine = snaps.get("start", snaps["end"])
    end = run.window_end(stopped)
    window = max(1e-9, end - run.start)
    lat = sorted(lat for r in run.results for (t, lat) in r if t <= end)
    wall = max(end_t - start_t, 1e-9)
    gen_cpu = (end_self - start_self) / wall
    server_cpu = cpu_delta(start_watched, end_watched) / wall

    if args.sample and run.sample is not None:
        open(args.sample, "wb").write(run.sample)

    ms = lambda v: None if v is None else round(v * 1000, 3)
    print(json.dumps({
        "engine": args.engine,
        "concurrency": args.concurrency,
        "channels": args.channels,
        "calls": len(lat),
        "errors": sum(run.errors.values()),
        "errorCodes": run.errors,
        "issued": run.issued(),
        "seconds": round(window, 4),
        "rate": len(lat) / window,
        "latencyMs": {
            "p50": ms(percentile(lat, 0.50)),
            "p90": ms(percentile(lat, 0.90)),
            "p99": ms(percentile(lat, 0.99)),
            "mean": ms(sum(lat) / len(lat)) if lat else None,
            "max": ms(lat[-1] if lat else None),
        },
        "generatorCpu": round(gen_cpu, 3),
        "serverCpu": round(server_cpu, 3) if watching else None,
        "otherCpu": round(max(0.0, (end_machine[0] - start_machine[0]) / wall - gen_cpu - server_cpu), 3),
        "stolenCpu": round((end_machine[1] - start_machine[1]) / wall, 3),
    }))


if __name__ == "__main__":
    sys.exit(main())
