"""Which reducer owns a key: murmur3 (mmh3) over the key's UTF-8 bytes, unsigned,
modulo the number of reducers. Stable across processes, machines and Python
versions, unlike ``hash()``."""

from __future__ import annotations

import mmh3

#: the murmur3 seed; changing it moves every key to another reducer
PARTITION_SEED = 0


def partition_of(key: str, reducers: int) -> int:
    """The reducer (0..reducers-1) that owns ``key``."""
    return (
        int(mmh3.hash(key.encode("utf-8", "surrogatepass"), PARTITION_SEED, signed=False))
        % reducers
    )
