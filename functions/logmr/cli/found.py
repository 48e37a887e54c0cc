"""What a run says on stderr of the inputs it read: the format detected, or
the formats, compressions and syslog years Plan found (``plan.view.found_lines``)."""

from __future__ import annotations

import sys
from typing import Any


def say_found(spec: dict[str, Any], auto: bool) -> None:
    """On stderr: the format detected (``auto``: the request said so) unless
    there are several, then what else was found (formats, compressions,
    syslog years)."""
    from logmr.plan.view import found_lines  # the planner's modules only when a run ends

    lines = found_lines(spec)
    if auto and not any(label == "formats" for label, _ in lines):
        name = str(spec.get("format"))
        variant = (spec.get("variants") or {}).get(name)
        lines.insert(0, ("format auto-detected", f"{name} ({variant})" if variant else name))
    for label, text in lines:
        print(f"logmr: {label}: {text}", file=sys.stderr)
