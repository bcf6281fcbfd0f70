#!/usr/bin/env python3
"""Reads the output of one interleaved wrk run (loadtest/interleaved.lua) and prints, per
route, the requests, the throughput, the server CPU per request and how busy the server was, and
each route's throughput relative to the baseline route with a 95% bootstrap interval; then the
verdict on the budget.

The routes take turns in short phases, so one "cycle" holds one phase of every route, next to each
other in time; the first cycle is warm-up and is left out, as is the last, incomplete one. A
route's throughput is its requests over its wall time, and its server CPU per request its CPU time
over its requests, summed over the cycles; the intervals come from resampling whole cycles (2,000
resamples, fixed seed), so they show how much the speed of a shared machine moved during the run.

The budget: the server CPU per request that `--budget-route` adds over the baseline is at most
what `--reference-route` adds over it plus `--budget-us` microseconds. PASS or FAIL is judged on
the run's figures; the margin (the reference's added CPU plus the allowance, minus the budget
route's) is printed with its interval.

    stats.py OUTPUT --baseline /open --budget-route /protected --reference-route /by_hand --budget-us 0.3

Exit status: 0 on PASS, 1 if the run is void (errors, non-2xx answers, too few cycles, a route of
the budget not measured), 2 on FAIL.
"""
import argparse
import random
import sys


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("output")
    ap.add_argument("--baseline", default="/open")
    ap.add_argument("--budget-route", default="/protected")
    ap.add_argument("--reference-route", default="/by_hand")
    ap.add_argument("--budget-us", type=float, default=0.3)
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
    for route in (args.baseline, args.budget_route, args.reference_route):
        if route not in routes:
            sys.exit(f"loadtest_stats: {route} was not measured: no verdict on the budget")
    base = routes.index(args.baseline)

    def throughput(cs, j):
        n = sum(c[j][1] for c in cs)
        wall = sum(c[j][2] for c in cs)
        return n / (wall / 1e9)

    def ratio(cs, j):
        return throughput(cs, j) / throughput(cs, base)

    def cpu_us(cs, j):
        """Server CPU per request, microseconds."""
        return sum(c[j][3] for c in cs) / sum(c[j][1] for c in cs) / 1e3

    def added_us(cs, j):
        """Server CPU per request beyond the baseline's, microseconds."""
        return cpu_us(cs, j) - cpu_us(cs, base)

    def interval(stat):
        boot = sorted(stat(s) for s in samples)
        return boot[49], boot[1949]

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
            r = ratio(cycles, j)
            lo, hi = interval(lambda cs: ratio(cs, j))
            result[route] = (r, lo, hi, added_us(cycles, j))
            rel = f"{r:.3f} [{lo:.3f}, {hi:.3f}]"
        print(f"| `{route}` | {n} | {n / (wall / 1e9):.0f} | {cpu / n / 1e3:.2f} | {busy:.0%} | {rel} |")
    print()
    print(f"- {len(cycles)} cycles of {k} phases; the first cycle (warm-up) left out")
    for route, (r, lo, hi, cpu) in result.items():
        print(f"- `{route}` keeps {r:.1%} of `{args.baseline}`'s throughput (95% interval {lo:.1%} to {hi:.1%}), {cpu:+.2f} µs server CPU per request")
    if idle:
        print(f"- WARNING: the server was under 90% busy on {', '.join(idle)}: the load generator set the pace there, so those ratios understate the difference")

    # The budget, on the server CPU each route adds per request over the baseline.
    b, ref = routes.index(args.budget_route), routes.index(args.reference_route)
    print()
    for j in (b, ref):
        lo, hi = interval(lambda cs: added_us(cs, j))
        print(f"- `{routes[j]}` adds {added_us(cycles, j):+.2f} µs server CPU per request over `{args.baseline}` (95% interval {lo:+.2f} to {hi:+.2f})")

    def margin(cs):
        return added_us(cs, ref) + args.budget_us - added_us(cs, b)

    m = margin(cycles)
    lo, hi = interval(margin)
    verdict = "PASS" if m >= 0 else "FAIL"
    print(f"- budget: `{args.budget_route}` adds at most `{args.reference_route}`'s + {args.budget_us:g} µs"
          f" = {added_us(cycles, ref) + args.budget_us:.2f} µs: **{verdict}**, margin {m:+.2f} µs"
          f" (95% interval {lo:+.2f} to {hi:+.2f})")
    if verdict == "FAIL":
        sys.exit(2)


if __name__ == "__main__":
    main()
