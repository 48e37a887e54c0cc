"""What the combined variants and custom formats cost against ``apache_combined``.

Run ``python bench/formats_variants.py [--size 100MB] [--repeats 5]``. It takes
the whole lines of bytes ``[0, 64 MiB)`` of the cached generated input
(``bench_status_codes.prepare_input``, apache_combined), makes a copy with
nginx's ``$request_time $upstream_response_time`` appended to each line, and
times in this process, with CPU time (``time.process_time``, robust to the
other processes of a shared machine), the median of ``--repeats``:

- ``status``: ``values_in_text(text, "status")``, what ``status_codes`` reads;
- ``path+bytes``: ``columns_in_text(text, ["path", "bytes"])`` and the values
  converted, what ``top_paths`` reads;

for ``apache_combined`` on the plain copy and on the copy with trailing
fields, and the custom ``nginx:`` format on the copy with trailing fields (and a
``regex:`` format, which has no block parser: ``status`` is then parse and
get per line, as the engine's fallback does), and prints a
Markdown table with the records each found.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from typing import Any

from bench_status_codes import MAP_RANGE_BYTES, prepare_input
from logmr.formats import get_format

REGEX = (
    r'regex:^(?P<client>\S+) \S+ \S+ \[(?P<time>[^]]+)\] "(?P<request>[^"]*)" (?P<status>\d{3})'
    r' (?P<size>\d+|-) "(?P<referer>[^"]*)" "(?P<user_agent>[^"]*)" (?P<latency>\S+) \S+$'
)
NGINX = (
    'nginx:$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent'
    ' "$http_referer" "$http_user_agent" $request_time $upstream_response_time'
)


def cpu_median(work: Callable[[], Any], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.process_time()
        work()
        times.append(time.process_time() - start)
    return statistics.median(times)


def _status_of(fmt: Any) -> Callable[[bytes], tuple[list[Any], int]]:
    """The statuses of a text's records and its line count: the block
    parser's ``values_in_text``, else parse and get line by line."""

    def per_line(text: bytes) -> tuple[list[Any], int]:
        lines = text.split(b"\n")[:-1]
        get = fmt.getter("status")
        return [get(r) for r in fmt.parse_many(lines) if r is not None], len(lines)

    def block(text: bytes) -> tuple[list[Any], int]:
        found: tuple[list[Any], int] = fmt.values_in_text(text, "status")
        return found

    return block if fmt.values_in_text(b"", "status") is not None else per_line


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", default="100MB")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args(argv)
    source = prepare_input(args.size).path
    with open(source, "rb") as f:
        head = f.read(MAP_RANGE_BYTES)
    plain = head[: head.rindex(b"\n") + 1]
    timed = plain.replace(b"\n", b" 0.012 0.011\n")
    lines = plain.count(b"\n")
    cases = [
        ("apache_combined", "plain combined", plain),
        ("apache_combined", "+ 2 trailing fields", timed),
        (NGINX, "+ 2 trailing fields", timed),
        (REGEX, "+ 2 trailing fields", timed),
    ]
    print("| format | input | records | status | path+bytes |")
    print("|---|---|---:|---:|---:|")
    for name, shape, text in cases:
        fmt = get_format(name)
        status = _status_of(fmt)
        counted = status(text)
        assert counted[1] == lines, name
        records = len(counted[0])

        def columns(fmt: Any = fmt, text: bytes = text, records: int = records) -> None:
            found = fmt.columns_in_text(text, ["path", "bytes"])
            if found is None:  # no block parser: records first
                parsed = [r for r in fmt.parse_many(text.split(b"\n")[:-1]) if r is not None]
                found = (fmt.columns(parsed, ["path", "bytes"]), lines)
            assert len(found[0][0].raw) == records
            for column in found[0]:
                column.values()

        status_s = cpu_median(lambda status=status, text=text: status(text), args.repeats)
        columns_s = cpu_median(columns, args.repeats)
        shown = {NGINX: "nginx:... (custom)", REGEX: "regex:... (custom, RE2)"}.get(name, name)
        print(f"| {shown} | {shape} | {records:,} | {status_s:.3f} | {columns_s:.3f} |")
    print()
    print(f"{lines:,} lines, {len(plain) / 1e6:.1f} MB plain; CPU s, median of {args.repeats}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
