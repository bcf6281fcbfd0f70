#!/usr/bin/env python3
"""Reads the output of one interleaved wrk run (loadtest/interleaved.lua) and prints, per
route, the requests, the throughput, the server CPU per request and how busy the server was, and
each route's throughput relative to the baseline route with a 95% bootstrap interval.

The routes take turns in short phases, so one "cycle" holds one phase of every route, next to each
other in time; the first cycle is warm-up and is left out, as is the last, incomplete one. A
route's throughput is its requests over its wall time, summed over the cycles; the interval comes
from resampling whole cycles (2,000 resamples, fixed seed), so it shows how much the speed of a
shared machine moved during the run.

    loadtest_stats.py OUTPUT --baseline /open --target-route /protected --target 0.92

Exit status: 0 whatever the verdict, 1 if the run is void (errors, non-2xx answers, too few cycles).
"""
import argparse
import random
import sys


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("output")
    ap.add_argument("--baseline", default="/open")
    ap.add_argument("--target-route", default="/protected")
    ap.add_argument("--target", type=float, default=0.92)
    args = ap.parse_args()

    phases, errors = [], None
    with open(args.output) as f:
        for line in f:
            p = line.split()
            if p[:1] == ["phase"]:
                phases.append((p[1], int(p[2]), float(p[3]), float(p[4])))
            elif p[:1] == ["errors"]:
                errors = (int(p[1]), int(p[2]))
    if errors is None:
        sys.exit("loadtest_stats: no summary in the wrk output (did wrk run the script?)")
    if errors != (0, 0):
        sys.exit(f"loadtest_stats: {errors[0]} non-2xx answers and {errors[1]} socket errors: the run is void")

    routes = []
    for route, *_ in phases:
        if route in routes:
            break
        routes.append(route)
    k = len(routes)
    cycles = [phases[i:i + k] for i in range(k, len(phases) - k + 1, k)]
    cycles = [c for c in cycles if [p[0] for p in c] == routes]
    if len(cycles) < 10:
        sys.exit(f"loadtest_stats: only {len(cycles)} complete cycles: run longer")
    if args.baseline not in routes:
        sys.exit(f"loadtest_stats: the baseline {args.baseline} was not measured")
    base = routes.index(args.baseline)

    def throughput(cs, j):
        n = sum(c[j][1] for c in cs)
        wall = sum(c[j][2] for c in cs)
        return n / (wall / 1e9)

    def ratio(cs, j):
        return throughput(cs, j) / throughput(cs, base)

    rng = random.Random(1)
    samples = [[rng.choice(cycles) for _ in cycles] for _ in range(2000)]

    print(f"| route | requests | req/s | server CPU (µs/req) | server busy | vs `{args.baseline}` (95% interval) |")
    print("|---|---:|---:|---:|---:|---:|")
    result = {}
    idle = []
    for j, route in enumerate(routes):
        n = sum(c[j][1] for c in cycles)
        wall = sum(c[j][2] for c in cycles)
        cpu = sum(c[j][3] for c in cycles)
        busy = cpu / wall
        if busy < 0.9:
            idle.append(route)
        if j == base:
            rel = "1"
        else:
            boot = sorted(ratio(s, j) for s in samples)
            r = ratio(cycles, j)
            lo, hi = boot[49], boot[1949]
            result[route] = (r, lo, hi, (cpu / n - sum(c[base][3] for c in cycles) / sum(c[base][1] for c in cycles)) / 1e3)
            rel = f"{r:.3f} [{lo:.3f}, {hi:.3f}]"
        print(f"| `{route}` | {n} | {n / (wall / 1e9):.0f} | {cpu / n / 1e3:.2f} | {busy:.0%} | {rel} |")
    print()
    print(f"- {len(cycles)} cycles of {k} phases; the first cycle (warm-up) left out")
    for route, (r, lo, hi, cpu) in result.items():
        print(f"- `{route}` keeps {r:.1%} of `{args.baseline}`'s throughput (95% interval {lo:.1%} to {hi:.1%}), {cpu:+.2f} µs server CPU per request")
    if idle:
        print(f"- WARNING: the server was under 90% busy on {', '.join(idle)}: the load generator set the pace there, so those ratios understate the difference")
    if args.target_route in result:
        r, lo, hi, _ = result[args.target_route]
        verdict = "meets" if r >= args.target else "misses"
        print(f"- target: `{args.target_route}` keeps >= {args.target:.0%}: **{verdict}** ({r:.1%})")


if __name__ == "__main__":
    main()
