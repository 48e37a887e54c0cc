"""Shuffle block codecs compared: encode and decode time and bytes.

Run ``python bench/shuffle_codecs.py [--rounds 5] [--shapes top_paths,dicts]``.

One map task's shuffle output is built in memory for each data shape (fixed
seed, the shapes the built-in combiners yield), split over ``--reducers``
partitions by logmr's own partition function, and every codec encodes all the
blocks (the map side's ``encode``) and decodes every block back to the list of
``(key, value)`` tuples a reducer groups (``decode_block``): once as a reducer
does, the cyclic garbage collector on (the fixtures frozen out of its sight),
and once with the collector off (the codec's own work; the difference is the
collector walking the containers the decode creates).

Times are this process's CPU seconds (``time.process_time``: the work is one
thread, and CPU time stays put when other processes share the machine, which
wall time does not). Per round the codecs run in a rotated order, each after
a ``gc.collect()``. The table gives the medians of the rounds, the spread
(max - min of encode + decode over the rounds, as a share of its median), and
each codec's ratio to today's format (JSON + zlib level 1), computed per
round and then the median.

Every codec's output is checked equal, type by type (ints stay ints, floats bit
for bit, tuples as lists, dict key order), to what today's JSON round trip
gives; a codec that differs is reported as WRONG (and the exit status is 1).
A codec whose library is not installed is skipped and named.

Candidates (none but ``zstandard`` is a dependency of logmr unless adopted):
``msgpack`` (the C extension), ``ormsgpack`` and ``orjson`` (Rust),
``msgspec`` (C), each with zlib or zstd at level 1, and ``cols``: the block as
two arrays (keys, then values) instead of one array of pairs, decoded with
``zip`` (no Python loop per pair). ``logmr`` is the checked-out
``logmr.mapreduce.shuffle`` itself (``encode_block``/``decode_block``, block
checksum included), when it has ``encode_block``.

Writes ``bench/results/shuffle_codecs.{json,md}`` with ``--output`` (default
on) and prints the table.
"""

from __future__ import annotations

import argparse
import gc
import importlib
import json
import platform
import random
import statistics
import struct
import sys
import time
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "functions"))

import zstandard  # noqa: E402

from logmr.mapreduce.partition import partition_of  # noqa: E402

DEFAULT_OUTPUT = ROOT / "bench" / "results" / "shuffle_codecs.json"
BASELINE = "json+zlib1"

Pair = tuple[str, Any]
Encode = Callable[[list[Pair]], bytes]
Decode = Callable[[bytes], list[Pair]]

# -- data shapes ---------------------------------------------------------------

RESOURCES = ("orders", "users", "products", "carts", "invoices", "sessions", "items", "search")


def _targets(rng: random.Random, n: int) -> list[str]:
    """``n`` distinct request targets like ``/api/v1/orders/123456?page=3``."""
    out: set[str] = set()
    while len(out) < n:
        resource = rng.choice(RESOURCES)
        ident = rng.randrange(1, 10**6)
        roll = rng.random()
        if roll < 0.4:
            target = f"/api/v1/{resource}/{ident}?page={rng.randrange(1, 20)}"
        elif roll < 0.7:
            target = f"/api/v1/{resource}/{ident}"
        elif roll < 0.9:
            target = f"/static/{resource}/{ident:x}.js?v={rng.randrange(1, 400)}"
        else:
            target = f"/{resource}/{ident}/détails?q=caf%C3%A9\\xff&sort=asc"
        out.add(target)
    shuffled = sorted(out)  # a set's order changes with the hash seed: sort, then shuffle
    rng.shuffle(shuffled)
    return shuffled


def _clients(rng: random.Random, n: int) -> list[str]:
    out: set[str] = set()
    while len(out) < n:
        out.add(".".join(str(rng.randrange(1, 255)) for _ in range(4)))
    shuffled = sorted(out)
    rng.shuffle(shuffled)
    return shuffled


def _b64(rng: random.Random, n: int) -> str:
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
    return "".join(rng.choice(alphabet) for _ in range(n))


def shape_pairs(shape: str, keys: int, seed: int = 1) -> list[Pair]:
    """One map task's combined pairs of ``shape`` (see ``SHAPES``)."""
    rng = random.Random(seed)
    if shape == "top_paths":  # top_paths, access_report's paths: [count, bytes]
        return [
            (
                t,
                [
                    c := rng.choice((1, 1, 1, 2, 3)),
                    sum(rng.randrange(200, 60_000) for _ in range(c)),
                ],
            )
            for t in _targets(rng, keys)
        ]
    if shape == "dicts":  # timeline / distinct-like dicts, several key orders
        pairs: list[Pair] = []
        for t in _targets(rng, keys):
            value: dict[str, Any] = {"count": rng.randrange(1, 5), "bytes": rng.randrange(0, 10**6)}
            for name in rng.sample(("2xx", "3xx", "4xx", "5xx"), rng.randrange(1, 3)):
                value[name] = rng.randrange(1, 4)
            pairs.append((t, value))
        return pairs
    if shape == "sessions":  # sessions: [[first, last, requests], ...], epoch floats
        pairs = []
        for c in _clients(rng, keys):
            start = 1_700_000_000 + rng.random() * 86_400
            sessions = []
            for _ in range(rng.choice((1, 1, 1, 2))):
                sessions.append([start, start + rng.random() * 900, rng.randrange(1, 30)])
                start += 3_600 + rng.random() * 3_600
            pairs.append((c, sessions))
        return pairs
    if shape == "clients":  # field_count client: many keys, int values
        return [(c, rng.randrange(1, 40)) for c in _clients(rng, keys)]
    if shape == "status_codes":  # few keys, int values
        codes = ["200", "204", "301", "302", "304", "400", "401", "403", "404", "405"]
        codes += ["408", "413", "429", "499", "500", "502", "503", "504"]
        return [(code, rng.randrange(1, 10**6)) for code in codes]
    if shape == "sketches":  # quantiles / distinct per window: sketch text strings
        return [
            (str(1_700_000_000 + 3600 * i), f"kll1:{_b64(rng, rng.randrange(2_000, 4_000))}")
            for i in range(keys)
        ]
    raise SystemExit(f"unknown shape {shape!r}")


#: shape -> (distinct keys, description)
SHAPES: dict[str, tuple[int, str]] = {
    "top_paths": (400_000, "400k targets, [count, bytes]"),
    "dicts": (400_000, "400k targets, {count, bytes, 2xx..}"),
    "sessions": (200_000, "200k clients, [[t0, t1, n]] floats"),
    "clients": (200_000, "200k clients, int"),
    "status_codes": (18, "18 statuses, int"),
    "sketches": (24, "24 windows, 2-4 KB sketch text"),
}

# -- codecs --------------------------------------------------------------------


def _zlib(data: bytes) -> bytes:
    return zlib.compress(data, 1)


_ZSTD = zstandard.ZstdCompressor(level=1)  # reused, as one thread's would be
_UNZSTD = zstandard.ZstdDecompressor()


def _zstd(data: bytes) -> bytes:
    return _ZSTD.compress(data)


def _unzstd(data: bytes) -> bytes:
    return _UNZSTD.decompress(data)


COMPRESSORS: dict[str, tuple[Callable[[bytes], bytes], Callable[[bytes], bytes]]] = {
    "": (bytes, bytes),
    "+zlib1": (_zlib, zlib.decompress),
    "+zstd1": (_zstd, _unzstd),
}


def _json_dumps(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode()


def serializers() -> tuple[
    dict[str, tuple[Callable[[Any], bytes], Callable[[bytes], Any]]], list[str]
]:
    """name -> (dumps, loads) of every installed serializer, and the missing ones."""
    found: dict[str, tuple[Callable[[Any], bytes], Callable[[bytes], Any]]] = {
        "json": (_json_dumps, json.loads)
    }
    missing = []
    for name in ("msgpack", "ormsgpack", "orjson", "msgspec"):
        try:
            module = importlib.import_module(name)
        except ImportError:
            missing.append(name)
            continue
        if name == "msgpack":
            packer = module.Packer(autoreset=True)
            found[name] = (packer.pack, module.unpackb)
        elif name == "ormsgpack":
            found[name] = (module.packb, module.unpackb)
        elif name == "orjson":
            found[name] = (module.dumps, module.loads)
        else:
            encoder, decoder = module.msgpack.Encoder(), module.msgpack.Decoder()
            found["msgspec"] = (encoder.encode, decoder.decode)
    return found, missing


def codecs() -> tuple[dict[str, tuple[Encode, Decode]], list[str]]:
    """name -> (encode one block, decode one block)."""
    found, missing = serializers()
    out: dict[str, tuple[Encode, Decode]] = {}
    plans = [
        ("json", "+zlib1", False),  # today's: the baseline
        ("json", "+zstd1", False),
        ("json", "+zstd1", True),
        ("orjson", "+zstd1", False),
        ("orjson", "+zstd1", True),
        ("msgpack", "", False),
        ("msgpack", "+zlib1", False),
        ("msgpack", "+zstd1", False),
        ("msgpack", "+zstd1", True),
        ("ormsgpack", "+zstd1", False),
        ("ormsgpack", "", True),
        ("ormsgpack", "+zstd1", True),
        ("msgspec", "+zstd1", True),
    ]
    for serializer, compressor, columns in plans:
        if serializer not in found:
            continue
        dumps, loads = found[serializer]
        squeeze, unsqueeze = COMPRESSORS[compressor]
        name = serializer + (" cols" if columns else "") + compressor
        out[name] = _codec(dumps, loads, squeeze, unsqueeze, columns)
    from logmr.mapreduce import shuffle

    if hasattr(shuffle, "encode_block"):
        out["logmr"] = (
            shuffle.encode_block,
            lambda block: shuffle.decode_block(block, zlib.crc32(block), len(block)),
        )
    return out, missing


def _codec(
    dumps: Callable[[Any], bytes],
    loads: Callable[[bytes], Any],
    squeeze: Callable[[bytes], bytes],
    unsqueeze: Callable[[bytes], bytes],
    columns: bool,
) -> tuple[Encode, Decode]:
    if columns:

        def encode(pairs: list[Pair]) -> bytes:
            return squeeze(dumps([[k for k, _ in pairs], [v for _, v in pairs]]))

        def decode(block: bytes) -> list[Pair]:
            keys, values = loads(unsqueeze(block))
            return list(zip(keys, values, strict=True))

    else:

        def encode(pairs: list[Pair]) -> bytes:
            return squeeze(dumps(pairs))

        def decode(block: bytes) -> list[Pair]:
            return [(k, v) for k, v in loads(unsqueeze(block))]

    return encode, decode


# -- checking ------------------------------------------------------------------


def same(a: Any, b: Any) -> bool:
    """Equal with the same types, floats bit for bit, dicts in the same key order."""
    if type(a) is not type(b):
        return False
    if isinstance(a, float):
        return struct.pack("<d", a) == struct.pack("<d", b)
    if isinstance(a, list | tuple):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict):
        return list(a) == list(b) and all(same(a[k], b[k]) for k in a)
    return bool(a == b)


# -- measuring -----------------------------------------------------------------


def _partitioned(pairs: list[Pair], reducers: int) -> list[list[Pair]]:
    parts: list[list[Pair]] = [[] for _ in range(reducers)]
    for key, value in pairs:
        parts[partition_of(key, reducers)].append((key, value))
    return parts


def measure(
    shapes: list[str], rounds: int, reducers: int, scale: float
) -> tuple[dict[str, Any], list[str]]:
    table, missing = codecs()
    results: dict[str, Any] = {}
    for shape in shapes:
        keys, description = SHAPES[shape]
        keys = max(1, int(keys * scale)) if keys > 1000 else keys
        parts = _partitioned(shape_pairs(shape, keys), reducers)
        expected = [
            [(k, v) for k, v in json.loads(_json_dumps(part))] if part else [] for part in parts
        ]
        samples: dict[str, dict[str, list[float]]] = {
            name: {"encode": [], "decode": [], "decode_nogc": []} for name in table
        }
        sizes: dict[str, int] = {}
        wrong: set[str] = set()
        names = list(table)
        gc.collect()
        gc.freeze()  # the fixtures are not the reducer's heap: keep them out of the collections
        for r in range(rounds):
            order = names[r % len(names) :] + names[: r % len(names)]
            for name in order:
                encode, decode = table[name]
                gc.collect()
                t0 = time.process_time()
                blocks = [encode(part) if part else b"" for part in parts]
                t1 = time.process_time()
                gc.collect()
                t2 = time.process_time()
                decoded = [decode(block) if block else [] for block in blocks]
                t3 = time.process_time()
                if r == 0 and not same(decoded, expected):
                    wrong.add(name)
                del decoded
                gc.collect()
                gc.disable()
                t4 = time.process_time()
                decoded = [decode(block) if block else [] for block in blocks]
                t5 = time.process_time()
                gc.enable()
                del decoded
                samples[name]["encode"].append(t1 - t0)
                samples[name]["decode"].append(t3 - t2)
                samples[name]["decode_nogc"].append(t5 - t4)
                sizes[name] = sum(len(block) for block in blocks)
                del blocks
        gc.unfreeze()
        results[shape] = _summary(
            shape, description=description, keys=keys, samples=samples, sizes=sizes, wrong=wrong
        )
        print(_table(results[shape]), flush=True)
        print(flush=True)
    return results, missing


def _spread(values: list[float]) -> float:
    middle = statistics.median(values)
    return (max(values) - min(values)) / middle if middle else 0.0


def _summary(
    shape: str,
    *,
    description: str,
    keys: int,
    samples: dict[str, dict[str, list[float]]],
    sizes: dict[str, int],
    wrong: set[str],
) -> dict[str, Any]:
    base = samples[BASELINE]
    rows = []
    for name, times in samples.items():
        total = [e + d for e, d in zip(times["encode"], times["decode"], strict=True)]
        base_total = [e + d for e, d in zip(base["encode"], base["decode"], strict=True)]
        rows.append(
            {
                "codec": name,
                "encode_s": statistics.median(times["encode"]),
                "decode_s": statistics.median(times["decode"]),
                "decode_nogc_s": statistics.median(times["decode_nogc"]),
                "total_s": statistics.median(total),
                "spread": _spread(total),
                "ratio": statistics.median(t / b for t, b in zip(total, base_total, strict=True)),
                "bytes": sizes[name],
                "bytes_ratio": sizes[name] / sizes[BASELINE],
                "wrong": name in wrong,
            }
        )
    return {"shape": shape, "description": description, "keys": keys, "rows": rows}


def _table(result: dict[str, Any]) -> str:
    lines = [
        f"### {result['shape']}: {result['description']} ({result['keys']:,} keys)",
        "",
        "| codec | encode s | decode s | (gc off) | enc+dec s | spread | vs today "
        "| bytes | vs today |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for row in result["rows"]:
        flag = " WRONG" if row["wrong"] else ""
        lines.append(
            f"| {row['codec']}{flag} | {row['encode_s']:.4f} | {row['decode_s']:.4f} "
            f"| {row['decode_nogc_s']:.4f} "
            f"| {row['total_s']:.4f} | {row['spread']:.0%} | {row['ratio']:.2f}x "
            f"| {row['bytes']:,} | {row['bytes_ratio']:.2f}x |"
        )
    return "\n".join(lines)


def _markdown(report: dict[str, Any]) -> str:
    versions = ", ".join(f"{name} {version}" for name, version in report["versions"].items())
    tables = "\n\n".join(_table(result) for result in report["shapes"].values())
    return (
        f"# Shuffle block codecs\n\n`python bench/shuffle_codecs.py --rounds {report['rounds']}`"
        f" on Python {report['python']} ({report['machine']}): one map task's output in"
        f" {report['reducers']} partitions; CPU seconds, medians of {report['rounds']} rounds;"
        f" {versions}; `logmr` is the checked-out `logmr.mapreduce.shuffle`.\n\n{tables}\n"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--reducers", type=int, default=8)
    parser.add_argument("--scale", type=float, default=1.0, help="times the key counts")
    parser.add_argument("--shapes", default=",".join(SHAPES))
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT)
    parser.add_argument("--no-output", action="store_true")
    args = parser.parse_args(argv)
    shapes = [s for s in args.shapes.split(",") if s]
    for shape in shapes:
        if shape not in SHAPES:
            parser.error(f"unknown shape {shape!r} (known: {', '.join(SHAPES)})")
    print(
        f"{args.rounds} rounds, {args.reducers} partitions, Python {platform.python_version()}, "
        f"{platform.machine()}; medians; ratio = per-round ratio to {BASELINE}, median",
        flush=True,
    )
    results, missing = measure(shapes, args.rounds, args.reducers, args.scale)
    if missing:
        print(f"not installed, skipped: {', '.join(missing)}")
    versions = {}
    for name in ("msgpack", "ormsgpack", "orjson", "msgspec", "zstandard"):
        try:
            versions[name] = importlib.import_module(name).__version__
        except (ImportError, AttributeError):
            versions[name] = None
    if not args.no_output:
        report = {
            "rounds": args.rounds,
            "reducers": args.reducers,
            "python": platform.python_version(),
            "machine": platform.machine(),
            "versions": versions,
            "skipped": missing,
            "shapes": results,
        }
        args.output.parent.mkdir(parents=True, exist_ok=True)
        args.output.write_text(json.dumps(report, indent=1) + "\n")
        args.output.with_suffix(".md").write_text(_markdown(report))
    wrong = [
        f"{shape}: {row['codec']}"
        for shape, r in results.items()
        for row in r["rows"]
        if row["wrong"]
    ]
    if wrong:
        print(f"answers differ from JSON's: {', '.join(wrong)}")
    return 1 if wrong else 0


if __name__ == "__main__":
    sys.exit(main())
