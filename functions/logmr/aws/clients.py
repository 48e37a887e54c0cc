"""The one place boto3 clients are built: lazily, cached, with one retry and
timeout policy.

A ``Clients`` object is cheap to create and connects to nothing until a store
first asks it for a client; the stores take it (or a ready client) as a
constructor argument. It pickles without its cache, so a store sent to a
worker process builds its own clients there (boto3 clients cannot be pickled).

The endpoint is, in order: the explicit ``endpoint_url`` argument, then
whatever boto3 finds itself (``AWS_ENDPOINT_URL``, ``AWS_ENDPOINT_URL_S3``, the
AWS config file), then the AWS default. The region likewise: the argument,
then boto3's own chain (``AWS_REGION``/``AWS_DEFAULT_REGION``, config file).
Nothing here reads the environment itself.
"""

from __future__ import annotations

import threading
from typing import Any

__all__ = [
    "DEFAULT_CONNECT_TIMEOUT",
    "DEFAULT_MAX_ATTEMPTS",
    "DEFAULT_READ_TIMEOUT",
    "Clients",
    "UsesClient",
]

#: botocore's ``max_attempts``: retries after the first call (so 5 calls in
#: all; botocore reports ``total_max_attempts`` = 5). Adaptive mode adds
#: client-side rate limiting under throttling to the jittered backoff.
DEFAULT_MAX_ATTEMPTS = 4
#: seconds to open a connection; Lambda networking is fast or broken
DEFAULT_CONNECT_TIMEOUT = 5.0
#: seconds a socket read may stall (per read, not per request or stream)
DEFAULT_READ_TIMEOUT = 60.0


class Clients:
    """Builds and caches one boto3 client per service name (thread-safe)."""

    def __init__(
        self,
        endpoint_url: str | None = None,
        region: str | None = None,
        *,
        max_attempts: int = DEFAULT_MAX_ATTEMPTS,
        connect_timeout: float = DEFAULT_CONNECT_TIMEOUT,
        read_timeout: float = DEFAULT_READ_TIMEOUT,
    ) -> None:
        self.endpoint_url = endpoint_url
        self.region = region
        self.max_attempts = max_attempts
        self.connect_timeout = connect_timeout
        self.read_timeout = read_timeout
        self._cache: dict[str, Any] = {}
        self._lock = threading.Lock()
        self._session: Any = None

    def config(self) -> Any:
        """The ``botocore.config.Config`` every client gets."""
        from botocore.config import Config

        return Config(
            retries={"mode": "adaptive", "max_attempts": self.max_attempts},
            connect_timeout=self.connect_timeout,
            read_timeout=self.read_timeout,
        )

    def client(self, service: str) -> Any:
        """The client for ``service`` ("s3", "dynamodb", ...), built on first use."""
        with self._lock:
            cached = self._cache.get(service)
            if cached is None:
                cached = self._build(service)
                self._cache[service] = cached
            return cached

    def _build(self, service: str) -> Any:
        import boto3.session

        if self._session is None:
            # A private session: boto3's default session is not safe to build
            # clients from in several threads at once.
            self._session = boto3.session.Session()
        kwargs: dict[str, Any] = {"config": self.config()}
        if self.endpoint_url is not None:  # otherwise boto3 resolves AWS_ENDPOINT_URL
            kwargs["endpoint_url"] = self.endpoint_url
        if self.region is not None:
            kwargs["region_name"] = self.region
        return self._session.client(service, **kwargs)

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state.update(_cache={}, _lock=None, _session=None)
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"Clients(endpoint_url={self.endpoint_url!r}, region={self.region!r})"


class UsesClient:
    """Holds one service's client: given, or built lazily from ``Clients``.

    Pickling drops the client (boto3 clients cannot cross processes); the copy
    builds its own from the same ``Clients`` settings on first use. A store
    given only a ready client rebuilds a default one (endpoint and region from
    boto3's own lookup), so pass ``clients`` to carry an explicit endpoint.
    """

    service: str = ""

    def __init__(self, client: Any = None, clients: Clients | None = None) -> None:
        self._client = client
        self._clients = clients

    @property
    def client(self) -> Any:
        """The boto3 client, built on first use."""
        if self._client is None:
            if self._clients is None:
                self._clients = Clients()
            self._client = self._clients.client(self.service)
        return self._client

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["_client"] = None
        return state
