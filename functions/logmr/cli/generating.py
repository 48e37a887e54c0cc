"""``logmr generate``: a deterministic synthetic log (the samples ``make run``
and the benchmarks use)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any


def add_parsers(sub: Any) -> None:
    gen = sub.add_parser("generate", help="write a deterministic synthetic log")
    gen.add_argument("--format", default="apache_combined", help="apache_combined or applog")
    gen.add_argument("--size", default=None, help="approximate size, e.g. 100MB, 1GB")
    gen.add_argument("--lines", type=int, default=None, help="exact number of lines")
    gen.add_argument("--seed", type=int, default=0)
    gen.add_argument(
        "--shape",
        default="simple",
        help="simple (about 500 paths, 2,000 clients; the default) or realistic "
        "(apache_combined: 50,000 paths with ids and query strings, 200,000 clients, "
        "a size per response)",
    )
    gen.add_argument("--output", "-o", required=True, help="file to write ('-' for stdout)")
    gen.set_defaults(handler=_generate)


def _generate(args: argparse.Namespace) -> int:
    from logmr.devtools.generate import generate
    from logmr.units import parse_size

    size = parse_size(args.size) if args.size else None
    if args.output == "-":
        stats = generate(
            sys.stdout.buffer,
            fmt=args.format,
            size=size,
            lines=args.lines,
            seed=args.seed,
            shape=args.shape,
        )
    else:
        path = Path(args.output)
        path.parent.mkdir(parents=True, exist_ok=True)
        temp = path.with_name(path.name + ".partial")
        try:
            with temp.open("wb") as out:
                stats = generate(
                    out,
                    fmt=args.format,
                    size=size,
                    lines=args.lines,
                    seed=args.seed,
                    shape=args.shape,
                )
        except BaseException:
            temp.unlink(missing_ok=True)
            raise
        temp.replace(path)
        print(f"wrote {stats.lines:,} lines, {stats.bytes:,} bytes to {path}", file=sys.stderr)
    return 0
