"""Input patterns: ``logs/*.gz`` and ``s3://bucket/prefix/*.gz``, expanded by
logmr rather than the shell (a quoted pattern, a request's input, an S3 key).

``*`` matches any characters but ``/``, ``**`` any characters (folders
too), ``?`` one character but ``/``, ``[abc]``/``[!abc]`` one of (or none
of) a set. A local path that exists is never a pattern. An S3 pattern is
listed from the key's part before the first wildcard and matched against
each key; a pattern that matches nothing is ``InputNotFoundError``.
"""

from __future__ import annotations

import glob
import re
from pathlib import Path

from logmr.errors import InputNotFoundError

#: the characters that make a path or key a pattern
WILDCARDS = "*?["


def is_pattern(text: str) -> bool:
    return any(char in text for char in WILDCARDS)


def literal_prefix(pattern: str) -> str:
    """The part of ``pattern`` before its first wildcard (what to list)."""
    cut = min((pattern.index(char) for char in WILDCARDS if char in pattern), default=len(pattern))
    return pattern[:cut]


def key_regex(pattern: str) -> re.Pattern[str]:
    """``pattern`` as a regular expression over whole keys (the rules above)."""
    out: list[str] = []
    i = 0
    while i < len(pattern):
        char = pattern[i]
        if pattern.startswith("**", i):
            out.append(".*")
            i += 2
            continue
        if char == "*":
            out.append("[^/]*")
        elif char == "?":
            out.append("[^/]")
        elif char == "[" and (end := pattern.find("]", i + 2)) != -1:
            members = pattern[i + 1 : end]
            negated = members.startswith("!")
            members = (members[1:] if negated else members).replace("\\", "\\\\")
            out.append(("[^" if negated else "[") + members + "]")
            i = end + 1
            continue
        else:
            out.append(re.escape(char))
        i += 1
    return re.compile("".join(out), re.DOTALL)


def local_paths(path: str) -> list[str]:
    """``path`` itself when it exists or is no pattern; else the files and
    folders it matches, sorted (``InputNotFoundError`` when none)."""
    if not is_pattern(path) or Path(path).exists():
        return [path]
    found = sorted(glob.glob(path, recursive=True))
    if not found:
        raise InputNotFoundError(f"no file matches {path}")
    return found
