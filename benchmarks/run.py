"""Run flowr's benchmarks: ``make bench`` (``make bench QUICK=1`` for the quick mode).

Prints a table per section, then a last line ``BENCH {json}`` for machines.
``FLOWR_BENCH_DB=sqlite|postgres|mariadb`` picks the database (SQLite file in
a temporary folder by default; database ``flowr_bench`` on the servers, made
afresh and dropped at the end).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from typing import Any

SECTIONS = ("transitions", "graphs", "states", "bulk", "scale", "tricks", "editor", "timers")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="smaller sizes and fewer rounds (under 2 minutes)")
    parser.add_argument("--only", choices=SECTIONS, action="append", help="run only this section (repeatable)")
    parser.add_argument("--sizes", help="graph sizes, comma separated (default 1000,10000,50000; quick: 1000,10000)")
    parser.add_argument("--rounds", type=int, help="interleaved transition rounds")
    parser.add_argument(
        "--without",
        action="append",
        default=[],
        metavar="TRICK",
        help="run with this speed trick switched off (repeatable; see flowr/db/tricks.py): "
        "pg_functions, no_model_init, pause_collector, raw_rows, columnar_document, hand_statements",
    )
    parser.add_argument("--tricks", action="store_true", help="only the tricks' gains (same as --only tricks)")
    return parser.parse_args(argv)


def setup_django() -> str | None:
    """Point Django at the benchmark settings; return the SQLite temp dir."""
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    os.environ["DJANGO_SETTINGS_MODULE"] = "benchmarks.settings"
    folder = None
    if os.environ.get("FLOWR_BENCH_DB", "sqlite") == "sqlite":
        folder = tempfile.mkdtemp(prefix="flowr_bench_")
        os.environ["FLOWR_BENCH_SQLITE"] = os.path.join(folder, "bench.sqlite3")
    import django

    django.setup()
    return folder


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    folder = setup_django()
    from benchmarks import bulk, database, editor, graphs, machine, scale, states, timers, transitions
    from benchmarks import tricks as trick_gains
    from flowr.db import tricks

    for name in args.without:
        tricks.set_enabled(name, False)
    sections = ["tricks"] if args.tricks else args.only or list(SECTIONS)
    started = time.perf_counter()
    results: dict[str, Any] = {"quick": args.quick, "without": sorted(args.without)}
    try:
        database.create()
        info = machine.describe()
        results["machine"] = info
        print(machine.render(info), flush=True)
        if "transitions" in sections:
            rounds = args.rounds or (9 if args.quick else 21)
            per_round = 60 if args.quick else 150
            section, found = transitions.run(rounds=rounds, per_round=per_round)
            print(section.render() + "\n", flush=True)
            results.update(found)
            if info["vendor"] == "postgresql":
                with transitions.prepared_statements():
                    section, found = transitions.run(rounds, per_round, title=", prepared statements")
                section.notes.append(f"the same, on a connection with OPTIONS {transitions.PREPARED}")
                print(section.render() + "\n", flush=True)
                results.update({f"{key}_prepared": value for key, value in found.items()})
        if "graphs" in sections:
            default = [1000, 10_000] if args.quick else [1000, 10_000, 50_000]
            sizes = [int(s) for s in args.sizes.split(",")] if args.sizes else default
            for section, found in graphs.run(sizes, quick=args.quick):
                print(section.render() + "\n", flush=True)
                results.update(found)
        if "states" in sections:
            section, found = states.run(count=1000 if args.quick else 10_000, listed=10_000)
            print(section.render() + "\n", flush=True)
            results.update(found)
        if "bulk" in sections:
            section, found = bulk.run(count=2_000 if args.quick else 10_000)
            print(section.render() + "\n", flush=True)
            results.update(found)
        if "scale" in sections:
            section, found = scale.run(scale.QUICK_SIZES if args.quick else scale.SIZES)
            print(section.render() + "\n", flush=True)
            results.update(found)
        if "tricks" in sections:
            section, found = trick_gains.run(rounds=5 if args.quick else 9, quick=args.quick)
            print(section.render() + "\n", flush=True)
            results.update(found)
        if "editor" in sections:
            missing = editor.available()
            if missing:
                print(f"### Editor layout: skipped ({missing})\n", flush=True)
            else:
                section, found = editor.run(editor.QUICK_SIZES if args.quick else editor.SIZES, rounds=5)
                print(section.render() + "\n", flush=True)
                results.update(found)
        if "timers" in sections:
            section, found = timers.run(count=1_000 if args.quick else 10_000)
            print(section.render() + "\n", flush=True)
            results.update(found)
    finally:
        database.drop()
        if folder:
            shutil.rmtree(folder, ignore_errors=True)
    results["seconds"] = round(time.perf_counter() - started, 1)
    print(f"total {results['seconds']} s")
    print("BENCH " + json.dumps(results, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
