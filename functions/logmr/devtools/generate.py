"""Deterministic synthetic logs for tests and benchmarks.

``generate(out, fmt=..., size=... | lines=..., seed=..., shape=...)`` writes
LF-terminated lines to a binary stream. The bytes depend only on the arguments: the same
arguments give the same bytes on any machine and any Python version (3.11 and later).

How that is kept:

* every random number comes from ``random.Random(seed).getrandbits(k)`` with
  ``k`` a multiple of 32 (the Mersenne Twister words, little-endian), unpacked
  with explicit little-endian ``struct`` formats; nothing uses ``hash()``, set
  order, floating-point library functions or the clock;
* the pools (client addresses, paths, user agents, loggers, messages, stack
  traces) are built once from a fixed seed with integer arithmetic only, so
  they are the same for every ``seed``;
* the stream is made in fixed blocks whatever the stopping rule, so a shorter
  output is always a prefix of a longer one with the same ``fmt`` and ``seed``.

Stopping rules (exactly one):

* ``lines=N``: exactly ``N`` lines (for ``applog`` a stack-trace line counts as
  a line, so the output may end inside a trace);
* ``size=N``: the longest prefix made of whole lines that is at most ``N``
  bytes; the output never exceeds ``N`` and the next line would.

Formats:

* ``apache_combined``: Apache combined log lines from a fixed pool of 2,000
  clients (a few IPv6), 500 paths with a Zipf-like skew, realistic methods,
  statuses, sizes, referers and 30 user agents; timestamps rise from
  2020-12-01 00:00:00 +0000 by small steps. About 0.1% of the lines are
  deliberately malformed (truncated, garbage, an extra field whose quote is
  never closed, binary bytes).
* ``apache_combined`` with ``shape="realistic"`` (the default shape is
  ``"simple"``, above): the same line grammar, methods, statuses, user agents,
  clock and malformed share, with the many distinct keys of a real site's
  log: 200,000 clients (weight ~ 1/(k+20)), 50,000 paths with a Zipf-like skew,
  most carrying ids (``/api/v1/orders/1234567``, ``/products/123456``,
  ``/static/img/products/123456-640w.jpg``), query strings on about a fifth
  of the requests (``?page=3&sort=price``, ``?ref=newsletter``,
  ``?q=cart+winter``, ``?fields=id,name``, ad click ids new on nearly every
  request), and every response size drawn per response (304 and HEAD: ``-``;
  ``/favicon.ico`` and ``/robots.txt`` keep one size). At 1 GB (seed 1):
  4,269,081 lines, 50,000 paths, 379,770 request targets, 199,442 clients,
  0.1% malformed; (path, size) pairs 84% distinct.
* ``applog``: log4j-style lines ``2020-12-01 08:12:33,123 INFO [main]
  com.example.OrderService - text`` with levels DEBUG/INFO/WARN/ERROR/FATAL;
  some ERROR and FATAL lines are followed by a Java stack trace (an exception
  line and 3-6 ``\\tat ...`` lines).

Speed: lines are joined from precomputed byte pieces chosen by table look-ups
(65,536-entry tables for weighted choices; 2**20 entries for the realistic
shape's clients and paths), timestamps are rebuilt only when
the second changes, and output is written in blocks of about 1-2 MB.
"""

from __future__ import annotations

import datetime
import random
import struct
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import BinaryIO

from logmr.errors import InvalidParameterError

__all__ = ["GENERATED_FORMATS", "GENERATED_SHAPES", "GenerateStats", "generate"]

GENERATED_FORMATS = ("apache_combined", "applog")
#: ``simple``: few distinct keys (the default); ``realistic``: many (apache_combined only)
GENERATED_SHAPES = ("simple", "realistic")

#: changes whenever the same arguments give other bytes (a cache of generated
#: logs, ``bench/``'s, is stale when its revision differs). 2: the extra field
#: of a malformed line has its quote unclosed (apache_combined takes closed ones)
REVISION = 2
#: where every generated log starts (UTC)
START = datetime.datetime(2020, 12, 1, tzinfo=datetime.UTC)
_START_EPOCH = int(START.timestamp())

#: seed of the fixed pools (independent of the ``seed`` argument)
_POOL_SEED = 0x6C6F676D72
#: weighted choices are made by indexing tables of this many entries
_TABLE_BITS = 16
_TABLE_SIZE = 1 << _TABLE_BITS
#: lines (apache) or events (applog) generated per block
_BLOCK = 8192

_MONTHS = tuple(b"Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec".split())


@dataclass(frozen=True)
class GenerateStats:
    """What :func:`generate` wrote."""

    lines: int
    bytes: int


# --------------------------------------------------------------------------
# shared helpers


def _table(weights: Sequence[int], size: int = _TABLE_SIZE) -> list[int]:
    """A list of ``size`` indexes where index ``i`` fills about ``weights[i]/sum`` of it.

    Integer arithmetic only (largest remainders), and every positive weight
    gets at least one slot.
    """
    total = sum(weights)
    if total <= 0:
        raise ValueError("weights must have a positive sum")
    positive = [i for i, w in enumerate(weights) if w > 0]
    if len(positive) > size:
        raise ValueError("more weights than slots")
    spare = size - len(positive)
    counts = dict.fromkeys(positive, 1)
    rest = sum(weights[i] for i in positive)
    remainders: list[tuple[int, int]] = []
    given = 0
    for i in positive:
        share, rem = divmod(weights[i] * spare, rest)
        counts[i] += share
        given += share
        remainders.append((-rem, i))
    remainders.sort()
    for _, i in remainders[: spare - given]:
        counts[i] += 1
    out: list[int] = []
    for i in positive:
        out.extend([i] * counts[i])
    return out


def _weighted(pairs: Sequence[tuple[bytes, int]]) -> list[bytes]:
    """A 65,536-entry table of the values of ``pairs`` by their integer weights."""
    values = [v for v, _ in pairs]
    return [values[i] for i in _table([w for _, w in pairs])]


def _random_words(rng: random.Random, nbytes: int) -> bytes:
    """``nbytes`` (a multiple of 4) random bytes, the same on every platform."""
    return rng.getrandbits(nbytes * 8).to_bytes(nbytes, "little")


def _check_args(fmt: str, size: int | None, lines: int | None, seed: int, shape: str) -> None:
    if fmt not in GENERATED_FORMATS:
        raise InvalidParameterError(
            f"unknown generator format {fmt!r} (known: {', '.join(GENERATED_FORMATS)})"
        )
    if shape not in GENERATED_SHAPES:
        raise InvalidParameterError(
            f"unknown generator shape {shape!r} (known: {', '.join(GENERATED_SHAPES)})"
        )
    if shape != "simple" and fmt != "apache_combined":
        raise InvalidParameterError(f"shape {shape!r} is only made for apache_combined, not {fmt}")
    if (size is None) == (lines is None):
        raise InvalidParameterError("give exactly one of size and lines")
    for name, value in (("size", size), ("lines", lines), ("seed", seed)):
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, int):
            raise InvalidParameterError(f"{name} must be an integer, not {value!r}")
        if value < 0:
            raise InvalidParameterError(f"{name} must not be negative (got {value})")


# --------------------------------------------------------------------------
# apache_combined: the fixed pools

_UA_POOL: tuple[tuple[bytes, bytes, int], ...] = (
    # (user agent, protocol, weight)
    (
        b"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
        b"Chrome/87.0.4280.66 Safari/537.36",
        b"HTTP/2.0",
        220,
    ),
    (
        b"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
        b"Chrome/86.0.4240.198 Safari/537.36",
        b"HTTP/1.1",
        90,
    ),
    (
        b"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) "
        b"Chrome/87.0.4280.67 Safari/537.36",
        b"HTTP/2.0",
        80,
    ),
    (
        b"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_6) AppleWebKit/605.1.15 (KHTML, like Gecko) "
        b"Version/14.0.1 Safari/605.1.15",
        b"HTTP/2.0",
        60,
    ),
    (
        b"Mozilla/5.0 (iPhone; CPU iPhone OS 14_2 like Mac OS X) AppleWebKit/605.1.15 "
        b"(KHTML, like Gecko) Version/14.0.1 Mobile/15E148 Safari/604.1",
        b"HTTP/2.0",
        110,
    ),
    (
        b"Mozilla/5.0 (iPhone; CPU iPhone OS 13_7 like Mac OS X) AppleWebKit/605.1.15 "
        b"(KHTML, like Gecko) Version/13.1.2 Mobile/15E148 Safari/604.1",
        b"HTTP/1.1",
        30,
    ),
    (
        b"Mozilla/5.0 (iPad; CPU OS 14_2 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
        b"Version/14.0.1 Mobile/15E148 Safari/604.1",
        b"HTTP/2.0",
        20,
    ),
    (
        b"Mozilla/5.0 (Linux; Android 10; SM-G973F) AppleWebKit/537.36 (KHTML, like Gecko) "
        b"Chrome/87.0.4280.66 Mobile Safari/537.36",
        b"HTTP/2.0",
        90,
    ),
    (
        b"Mozilla/5.0 (Linux; Android 11; Pixel 4a) AppleWebKit/537.36 (KHTML, like Gecko) "
        b"Chrome/87.0.4280.66 Mobile Safari/537.36",
        b"HTTP/2.0",
        35,
    ),
    (
        b"Mozilla/5.0 (Linux; Android 9; SM-J730F) AppleWebKit/537.36 (KHTML, like Gecko) "
        b"SamsungBrowser/13.0 Chrome/83.0.4103.106 Mobile Safari/537.36",
        b"HTTP/1.1",
        20,
    ),
    (
        b"Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:83.0) Gecko/20100101 Firefox/83.0",
        b"HTTP/2.0",
        60,
    ),
    (
        b"Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:83.0) Gecko/20100101 Firefox/83.0",
        b"HTTP/1.1",
        15,
    ),
    (
        b"Mozilla/5.0 (Macintosh; Intel Mac OS X 10.15; rv:82.0) Gecko/20100101 Firefox/82.0",
        b"HTTP/1.1",
        12,
    ),
    (
        b"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
        b"Chrome/87.0.4280.66 Safari/537.36 Edg/87.0.664.47",
        b"HTTP/2.0",
        45,
    ),
    (b"Mozilla/5.0 (Windows NT 6.1; WOW64; Trident/7.0; rv:11.0) like Gecko", b"HTTP/1.1", 8),
    (b"Mozilla/4.0 (compatible; MSIE 8.0; Windows NT 5.1; Trident/4.0)", b"HTTP/1.1", 3),
    (
        b"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
        b"Chrome/87.0.4280.66 Safari/537.36",
        b"HTTP/1.1",
        15,
    ),
    (b"Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)", b"HTTP/1.1", 40),
    (b"Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)", b"HTTP/1.1", 20),
    (b"Mozilla/5.0 (compatible; YandexBot/3.0; +http://yandex.com/bots)", b"HTTP/1.1", 8),
    (b"Mozilla/5.0 (compatible; AhrefsBot/7.0; +http://ahrefs.com/robot/)", b"HTTP/1.1", 10),
    (
        b"Mozilla/5.0 (compatible; SemrushBot/7~bl; +http://www.semrush.com/bot.html)",
        b"HTTP/1.1",
        6,
    ),
    (
        b"Mozilla/5.0 (compatible; DotBot/1.1; http://www.opensiteexplorer.org/dotbot)",
        b"HTTP/1.1",
        3,
    ),
    (b"facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)", b"HTTP/1.1", 5),
    (b"Twitterbot/1.0", b"HTTP/1.1", 3),
    (b"curl/7.68.0", b"HTTP/1.1", 8),
    (b"Wget/1.20.3 (linux-gnu)", b"HTTP/1.0", 3),
    (b"python-requests/2.25.0", b"HTTP/1.1", 10),
    (b"Go-http-client/1.1", b"HTTP/1.1", 6),
    (b"Apache-HttpClient/4.5.13 (Java/11.0.9)", b"HTTP/1.1", 4),
    (b"-", b"HTTP/1.0", 3),
)

_METHODS = (b"GET", b"POST", b"HEAD", b"PUT", b"DELETE", b"OPTIONS")
_STATUSES = (
    b"200",
    b"201",
    b"204",
    b"301",
    b"302",
    b"304",
    b"400",
    b"401",
    b"403",
    b"404",
    b"408",
    b"500",
    b"502",
    b"503",
)

# path classes: 0 page, 1 static asset, 2 api, 3 missing (scanners, stale links)
_METHOD_WEIGHTS = (
    (9500, 150, 330, 0, 0, 20),  # page
    (9700, 0, 300, 0, 0, 0),  # static
    (5500, 2500, 200, 800, 500, 500),  # api
    (8000, 1500, 500, 0, 0, 0),  # missing
)
_STATUS_WEIGHTS = (
    # 200   201  204  301  302  304  400  401  403  404  408  500  502  503
    (8650, 0, 0, 200, 350, 450, 40, 30, 40, 100, 20, 70, 20, 30),  # page
    (7000, 0, 0, 20, 0, 2800, 10, 0, 10, 130, 10, 10, 5, 5),  # static
    (7000, 800, 600, 0, 0, 0, 500, 400, 150, 200, 40, 200, 50, 60),  # api
    (0, 0, 0, 200, 0, 0, 200, 0, 400, 9200, 0, 0, 0, 0),  # missing
)

_WORDS = (
    "about",
    "account",
    "archive",
    "blog",
    "cart",
    "catalog",
    "checkout",
    "contact",
    "docs",
    "download",
    "events",
    "faq",
    "features",
    "gallery",
    "help",
    "jobs",
    "login",
    "news",
    "orders",
    "partners",
    "press",
    "pricing",
    "privacy",
    "products",
    "profile",
    "reviews",
    "search",
    "services",
    "settings",
    "shop",
    "signup",
    "support",
    "team",
    "terms",
    "tutorials",
    "wishlist",
)
_SLUGS = (
    "getting-started",
    "release-notes",
    "winter-sale",
    "how-we-build",
    "year-in-review",
    "new-features",
    "security-update",
    "case-study",
    "roadmap-2021",
    "best-practices",
    "migration-guide",
    "performance-tips",
    "black-friday",
    "holiday-hours",
    "webinar",
)
_MISSING = (
    "/wp-login.php",
    "/wp-admin/",
    "/xmlrpc.php",
    "/.env",
    "/.git/config",
    "/phpmyadmin/",
    "/admin/config.php",
    "/owa/auth/logon.aspx",
    "/solr/admin/info/system",
    "/vendor/phpunit/phpunit/src/Util/PHP/eval-stdin.php",
    "/cgi-bin/test.cgi",
    "/boaform/admin/formLogin",
    "/HNAP1/",
    "/manager/html",
    "/actuator/health",
    "/console/",
    "/.DS_Store",
    "/backup.zip",
    "/config.json",
    "/server-status",
    "/old/index.html",
    "/apple-touch-icon.png",
    "/apple-touch-icon-precomposed.png",
    "/ads.txt",
    "/sitemap.xml.gz",
)


#: referers from other sites (with their weights out of about 100,000)
_EXTERNAL_REFERERS: list[tuple[bytes, int]] = [
    (b'https://www.google.com/" "', 9_000),
    (b'https://www.bing.com/" "', 1_200),
    (b'https://duckduckgo.com/" "', 600),
    (b'https://t.co/Xa93kLm2" "', 400),
    (b'https://www.facebook.com/" "', 800),
    (b'android-app://com.google.android.gm/" "', 200),
    (b'https://news.ycombinator.com/item?id=25250203" "', 300),
    (b'https://www.reddit.com/r/webdev/comments/k3x1vz/" "', 300),
    (b'http://example.com/" "', 100),
]
#: seconds between lines: mostly 0, sometimes 1, rarely a pause (256 entries)
_STEP = (0,) * 214 + (1,) * 36 + (2,) * 3 + (3, 5, 11)
#: what a malformed line of the garbage kind is
_GARBAGE = (
    b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\x8a\xf1\x9b\x02\x7fZ\xc4",
    b"GET / HTTP/1.1",
    b"-",
    b'"GET /index.html HTTP/1.1" 200 1043',
    b"[01/Dec/2020:00:00:00 +0000] client denied by server configuration: /var/www/html/",
    b"\x00\x00\x00\x00\x00\x00\x00\x00",
    b"PROXY TCP4 198.51.100.22 203.0.113.7 35646 80",
    b"\xef\xbb\xbf# log rotated",
)


@dataclass(frozen=True)
class _ApachePools:
    ip_table: list[int]  # 65,536 client indexes, skewed
    ip_prefix: list[bytes]  # b"203.0.113.9 - - ["
    ip_proto: list[bytes]  # b" HTTP/1.1\" "
    ip_ua: list[bytes]  # b"user agent\"\n"
    path_table: list[int]  # 65,536 path indexes, Zipf-like
    path_bytes: list[bytes]  # b" /path"
    path_class: list[int]
    method_tables: list[list[int]]  # per class, 65,536 method indexes
    status_tables: list[list[int]]  # per class, 65,536 status indexes
    ok_sizes: list[list[bytes]]  # per path, 16 b"200 123 \"" pieces
    status_sizes: list[list[bytes]]  # per status, 16 b"404 196 \"" pieces
    referer: list[bytes]  # 65,536 b"-\" \"" pieces
    step: list[int]  # 256 timestamp steps (seconds)
    garbage: list[bytes]


def _ip(rng: random.Random) -> bytes:
    if rng.randrange(50) == 0:
        groups = [0x2001, 0x0DB8, rng.randrange(1 << 16), rng.randrange(1 << 16)]
        tail = [rng.randrange(1 << 16) for _ in range(2)]
        text = ":".join(f"{g:x}" for g in groups) + "::" + ":".join(f"{g:x}" for g in tail)
        return text.encode()
    while True:
        first = rng.randrange(1, 224)
        if first not in (10, 127, 169, 172, 192):
            break
    return b"%d.%d.%d.%d" % (first, rng.randrange(256), rng.randrange(256), rng.randrange(1, 255))


def _paths(rng: random.Random) -> list[tuple[bytes, int]]:
    """The 500 paths with their class, most popular first."""
    head = [
        ("/", 0),
        ("/favicon.ico", 1),
        ("/static/css/main.css", 1),
        ("/static/js/app.js", 1),
        ("/index.html", 0),
        ("/robots.txt", 1),
        ("/api/v1/session", 2),
        ("/images/logo.png", 1),
    ]
    seen = {p for p, _ in head}
    rest: list[tuple[str, int]] = []

    def add(path: str, cls: int) -> None:
        if path not in seen:
            seen.add(path)
            rest.append((path, cls))

    for word in _WORDS:
        add(f"/{word}", 0)
        add(f"/{word}.html", 0)
    for word in _MISSING:
        add(word, 3)
    exts = ("css", "js", "png", "jpg", "svg", "woff2", "webp", "gif")
    while len(rest) < 492:
        kind = rng.randrange(10)
        if kind < 3:
            ext = exts[rng.randrange(len(exts))]
            folder = {"css": "css", "js": "js", "woff2": "fonts"}.get(ext, "images")
            add(
                f"/static/{folder}/{_WORDS[rng.randrange(len(_WORDS))]}"
                f".{rng.getrandbits(32):08x}.{ext}",
                1,
            )
        elif kind < 5:
            add(f"/blog/2020/{rng.randrange(1, 13):02d}/{_SLUGS[rng.randrange(len(_SLUGS))]}", 0)
        elif kind < 7:
            resource = ("products", "orders", "users", "carts", "reviews")[rng.randrange(5)]
            if rng.randrange(2):
                add(f"/api/v1/{resource}/{rng.randrange(1, 100000)}", 2)
            else:
                add(f"/api/v1/{resource}?page={rng.randrange(1, 30)}&limit=20", 2)
        elif kind < 8:
            add(
                f"/search?q={_WORDS[rng.randrange(len(_WORDS))]}+"
                f"{_SLUGS[rng.randrange(len(_SLUGS))].split('-')[0]}",
                0,
            )
        elif kind < 9:
            ref = _WORDS[rng.randrange(len(_WORDS))]
            add(f"/products/{rng.randrange(1000, 9999)}?ref={ref}", 0)
        else:
            add(f"/products/{rng.randrange(1000, 9999)}", 0)
    rng.shuffle(rest)
    return [(p.encode(), c) for p, c in head] + [(p.encode(), c) for p, c in rest]


def _base_size(rng: random.Random, path: bytes, cls: int) -> int:
    if cls == 2:
        return rng.randrange(80, 6000)
    if path.endswith((b".png", b".jpg", b".webp", b".gif")):
        return rng.randrange(2000, 400000)
    if path.endswith(b".js"):
        return rng.randrange(5000, 300000)
    if path.endswith((b".css", b".woff2", b".svg")):
        return rng.randrange(800, 60000)
    if path == b"/favicon.ico":
        return 1150
    if path == b"/robots.txt":
        return 68
    return rng.randrange(3000, 40000)


@lru_cache(maxsize=1)
def _apache_pools() -> _ApachePools:
    rng = random.Random(_POOL_SEED)
    ips: list[bytes] = []
    seen: set[bytes] = set()
    while len(ips) < 2000:
        ip = _ip(rng)
        if ip not in seen:
            seen.add(ip)
            ips.append(ip)
    ua_table = _table([w for _, _, w in _UA_POOL])
    client_ua = [_UA_POOL[ua_table[rng.getrandbits(16)]] for _ in ips]
    # client k (from 0) has weight ~ 1/(k+8): a few heavy hitters, a long tail
    ip_table = _table([10**9 // (k + 8) for k in range(len(ips))])

    paths = _paths(rng)
    path_table = _table([10**9 // (k + 1) for k in range(len(paths))])
    ok_sizes: list[list[bytes]] = []
    for path, cls in paths:
        base = _base_size(rng, path, cls)
        spread = base // 10 if cls == 2 else base // 50
        variants = [base + rng.randrange(-spread, spread + 1) for _ in range(16)]
        ok_sizes.append([b'200 %d "' % n for n in variants])
    status_sizes: list[list[bytes]] = []
    for code in _STATUSES:
        if code in (b"304",):
            pieces = [b'304 - "'] * 16
        elif code == b"204":
            pieces = [b'204 - "'] * 12 + [b'204 0 "'] * 4
        elif code == b"201":
            pieces = [b'201 %d "' % rng.randrange(60, 900) for _ in range(16)]
        elif code in (b"301", b"302"):
            pieces = [b'%s %d "' % (code, rng.randrange(220, 260)) for _ in range(16)]
        else:
            pieces = [b'%s %d "' % (code, rng.randrange(150, 700)) for _ in range(16)]
        status_sizes.append(pieces)

    site = b"https://www.example.com"
    # about 35% no referer, 52% a page of the site (popular pages more often),
    # 13% search engines and other sites
    ref_pairs: list[tuple[bytes, int]] = [(b'-" "', 35_000)]
    pages = [(k, path) for k, (path, cls) in enumerate(paths[:120]) if cls == 0]
    raw = [10**6 // (k + 8) for k, _ in pages]
    for (_, path), w in zip(pages, raw, strict=True):
        ref_pairs.append((site + path + b'" "', max(1, 52_000 * w // sum(raw))))
    ref_pairs += _EXTERNAL_REFERERS
    return _ApachePools(
        ip_table=ip_table,
        ip_prefix=[ip + b" - - [" for ip in ips],
        ip_proto=[b" " + proto + b'" ' for _, proto, _ in client_ua],
        ip_ua=[ua + b'"\n' for ua, _, _ in client_ua],
        path_table=path_table,
        path_bytes=[b" " + p for p, _ in paths],
        path_class=[c for _, c in paths],
        method_tables=[_table(w) for w in _METHOD_WEIGHTS],
        status_tables=[_table(w) for w in _STATUS_WEIGHTS],
        ok_sizes=ok_sizes,
        status_sizes=status_sizes,
        referer=_weighted(ref_pairs),
        step=list(_STEP),
        garbage=list(_GARBAGE),
    )


class _Clock:
    """An epoch second's time text, its date part built once a day: ``day``
    formats the date, ``time`` (a ``%02d:%02d:%02d`` bytes pattern) the rest."""

    def __init__(self, day: Callable[[datetime.date], bytes], time: bytes) -> None:
        self.format_day = day
        self.time = b"%s" + time
        self.day = -1
        self.prefix = b""

    def text(self, epoch: int) -> bytes:
        day, sec = divmod(epoch, 86400)
        if day != self.day:
            self.day = day
            self.prefix = self.format_day(datetime.date(1970, 1, 1) + datetime.timedelta(days=day))
        hour, rest = divmod(sec, 3600)
        return self.time % (self.prefix, hour, rest // 60, rest % 60)


def _apache_clock() -> _Clock:
    """``b'01/Dec/2020:08:12:33 +0000] "'``"""
    return _Clock(
        lambda d: b"%02d/%s/%04d:" % (d.day, _MONTHS[d.month - 1], d.year),
        b'%02d:%02d:%02d +0000] "',
    )


# per line: client, path, method, status, referer, malformed (16 bits each),
# size variant, clock step (8 bits each) = 14 bytes, padded to 16
_APACHE_RECORD = struct.Struct("<HHHHHHBBxx")
_MALFORMED_SLOTS = 66  # of 65,536: about 0.1%


def _malformed(garbage: Sequence[bytes], line: bytes, pick: int, cut: int) -> bytes:
    kind = pick & 3
    if kind == 0:  # truncated (keeps at least 12 bytes, drops at least the closing quote)
        body = line[:-1]
        keep = 12 + cut % max(len(body) - 13, 1)
        return body[:keep] + b"\n"
    if kind == 1:  # an extra field after the user agent, its quote never closed
        return line[:-1] + b' "extra-field\n'
    if kind == 2:  # an unescaped quote in the request
        start = line.index(b'"') + 1
        return line[:start] + b'GET /"quoted" HTTP/1.1' + line[line.index(b'"', start) :]
    return garbage[(pick >> 2) % len(garbage)] + b"\n"


def _apache_blocks(rng: random.Random) -> Iterator[list[bytes]]:
    pools = _apache_pools()
    ip_table, ip_prefix, ip_proto, ip_ua = (
        pools.ip_table,
        pools.ip_prefix,
        pools.ip_proto,
        pools.ip_ua,
    )
    path_table, path_bytes, path_class = pools.path_table, pools.path_bytes, pools.path_class
    method_tables = [[_METHODS[i] for i in t] for t in pools.method_tables]
    status_tables = pools.status_tables
    ok_sizes, status_sizes, referer, step = (
        pools.ok_sizes,
        pools.status_sizes,
        pools.referer,
        pools.step,
    )
    head_sizes = [[code + b' - "'] * 16 for code in _STATUSES]  # HEAD: no body
    head = _METHODS[2]
    clock = _apache_clock()
    epoch = _START_EPOCH
    ts = clock.text(epoch)
    record = _APACHE_RECORD
    join = b"".join
    while True:
        raw = _random_words(rng, record.size * _BLOCK)
        out: list[bytes] = []
        append = out.append
        for c, p, m, s, r, bad, v, dt in record.iter_unpack(raw):
            if step[dt]:
                epoch += step[dt]
                ts = clock.text(epoch)
            ci = ip_table[c]
            pi = path_table[p]
            cls = path_class[pi]
            method = method_tables[cls][m]
            si = status_tables[cls][s]
            if method is head:
                size = head_sizes[si][v & 15]
            elif si:
                size = status_sizes[si][v & 15]
            else:
                size = ok_sizes[pi][v & 15]
            line = join(
                (
                    ip_prefix[ci],
                    ts,
                    method,
                    path_bytes[pi],
                    ip_proto[ci],
                    size,
                    referer[r],
                    ip_ua[ci],
                )
            )
            if bad < _MALFORMED_SLOTS:
                line = _malformed(pools.garbage, line, v, r)
            append(line)
        yield out


# --------------------------------------------------------------------------
# apache_combined, realistic shape: many distinct keys
#
# A large shop's access log: 200,000 clients, 50,000 paths (most of them
# carrying ids: products, orders, users, images), query strings on about a
# fifth of the requests (paging, sorting, filters, searches, campaign tags,
# ad click ids that are new on nearly every request) and a response size
# drawn for every response. The line grammar, methods, statuses, user agents,
# referers, clock and malformed lines are the simple shape's.

#: the realistic shape's pools
_REAL_CLIENTS = 200_000
_REAL_PATHS = 50_000
#: its client and path tables have 2**20 entries, indexed by the top 20 bits of a word
_BIG_TABLE_SHIFT = 12
_BIG_TABLE_SIZE = 1 << (32 - _BIG_TABLE_SHIFT)

# which query strings a path may carry
(
    _FAMILY_NONE,
    _FAMILY_PAGE,
    _FAMILY_LISTING,
    _FAMILY_SEARCH,
    _FAMILY_API_LIST,
    _FAMILY_API_ITEM,
    _FAMILY_STATIC,
) = range(7)

_SORTS = (b"price", b"price_desc", b"name", b"newest", b"rating", b"popular")
_COLORS = (b"black", b"white", b"red", b"blue", b"green", b"grey", b"navy", b"beige")
_REFS = (
    b"newsletter", b"twitter", b"facebook", b"homepage", b"related", b"email", b"partner",
    b"banner", b"footer", b"sidebar", b"instagram", b"pinterest", b"recommendations",
)  # fmt: skip
_MEDIUMS = (b"email", b"social", b"cpc", b"display", b"affiliate")
_FIELDS = (
    b"id,name", b"id,name,price", b"id,status", b"id,status,total", b"id,email",
    b"id,name,price,stock", b"id,created_at",
)  # fmt: skip
_EXPANDS = (b"items", b"customer", b"payments", b"items,customer", b"shipping")
_LIMITS = (b"20", b"50", b"100")
#: 8-character tails of click ids (with the 32-bit number before them: new on nearly every click)
_CLICK_TAILS = tuple(b"BhD%05d" % (i * 7919 % 100_000) for i in range(64))

# A query kind: (template, modulus, base, choices). The query is
# ``template % (base + number % modulus, choice)``, or ``template % choice``
# when the modulus is 0; kind 0 is no query.
_QueryKind = tuple[bytes, int, int, tuple[bytes, ...]]
_QUERY_KINDS: tuple[_QueryKind, ...] = (
    (b"", 0, 0, (b"",)),
    (b"?page=%d&sort=%s", 40, 1, _SORTS),  # 1
    (b"?page=%d%s", 60, 2, (b"",)),  # 2
    (b"?size=%d&color=%s", 14, 36, _COLORS),  # 3
    (b"?ref=%s", 0, 0, _REFS),  # 4
    (b"?utm_campaign=spring-%d&utm_medium=%s", 24, 1, _MEDIUMS),  # 5
    (b"?gclid=Cj0KCQiA%08x%s", 1 << 32, 0, _CLICK_TAILS),  # 6
    (b"?fbclid=IwAR%08x%s", 1 << 32, 0, _CLICK_TAILS),  # 7
    (b"?q=%s", 0, 0, ()),  # 8: the search phrases (filled in below)
    (b"?page=%d&q=%s", 8, 2, ()),  # 9
    (b"?page=%d&limit=%s", 100, 1, _LIMITS),  # 10
    (b"?since=%d%s", 14 * 86400, _START_EPOCH, (b"",)),  # 11
    (b"?fields=%s", 0, 0, _FIELDS),  # 12
    (b"?expand=%s", 0, 0, _EXPANDS),  # 13
    (b"?v=%d%s", 30, 1, (b"",)),  # 14
)
#: per family, (query kind, weight out of 10,000)
_FAMILY_QUERIES: tuple[tuple[tuple[int, int], ...], ...] = (
    ((0, 10_000),),  # none
    ((0, 8_850), (4, 450), (5, 400), (6, 200), (7, 100)),  # page
    ((0, 5_700), (1, 1_800), (2, 1_000), (3, 700), (4, 400), (6, 150), (5, 250)),  # listing
    ((8, 7_000), (9, 2_500), (0, 500)),  # search
    ((0, 5_000), (10, 3_000), (11, 1_200), (12, 800)),  # api list
    ((0, 8_000), (12, 1_200), (13, 800)),  # api item
    ((0, 9_000), (14, 1_000)),  # static
)


#: a client: b"203.0.113.9 - - [", b" HTTP/1.1\" ", b"user agent\"\n"
_Client = tuple[bytes, bytes, bytes]
#: a path: b" /path", its class's 65,536 methods and status indexes, its
#: family's 65,536 query kinds, its smallest 200 response size and how many sizes
_Path = tuple[bytes, list[bytes], list[int], list[int], int, int]


@dataclass(frozen=True)
class _RealisticPools:
    clients: list[_Client]  # 2**20 entries, skewed: one look-up per line
    paths: list[_Path]  # 2**20 entries, Zipf-like
    query_kinds: list[_QueryKind]
    status_fixed: list[bytes | None]  # per status, its piece when the size is fixed
    status_low: list[int]
    status_span: list[int]
    referer: list[bytes]


def _slug(rng: random.Random) -> str:
    return f"{_WORDS[rng.randrange(len(_WORDS))]}-{_SLUGS[rng.randrange(len(_SLUGS))]}"


def _realistic_paths(rng: random.Random) -> list[tuple[bytes, int, int]]:
    """The 50,000 paths with their class and query family, most popular first."""
    head = [
        ("/", 0, _FAMILY_PAGE),
        ("/favicon.ico", 1, _FAMILY_NONE),
        ("/static/css/main.css", 1, _FAMILY_STATIC),
        ("/static/js/app.js", 1, _FAMILY_STATIC),
        ("/api/v1/session", 2, _FAMILY_API_ITEM),
        ("/search", 0, _FAMILY_SEARCH),
        ("/products", 0, _FAMILY_LISTING),
        ("/api/v1/cart", 2, _FAMILY_API_ITEM),
        ("/images/logo.png", 1, _FAMILY_STATIC),
        ("/robots.txt", 1, _FAMILY_NONE),
        ("/api/v1/products", 2, _FAMILY_API_LIST),
        ("/api/v1/search", 2, _FAMILY_SEARCH),
    ]
    seen = {p for p, _, _ in head}
    rest: list[tuple[str, int, int]] = []

    def add(path: str, cls: int, family: int) -> None:
        if path not in seen:
            seen.add(path)
            rest.append((path, cls, family))

    for word in _WORDS:
        add(f"/{word}", 0, _FAMILY_PAGE)
    for word in _MISSING:
        add(word, 3, _FAMILY_NONE)
    for first in _WORDS:
        for second in _WORDS[::3]:
            add(f"/category/{first}/{second}", 0, _FAMILY_LISTING)
    widths = (160, 320, 640, 1280)
    resources = ("orders", "users", "carts", "reviews", "payments")
    while len(rest) < _REAL_PATHS - len(head):
        kind = rng.randrange(100)
        if kind < 30:
            add(f"/products/{rng.randrange(10_000, 1_000_000)}", 0, _FAMILY_PAGE)
        elif kind < 48:
            add(f"/api/v1/products/{rng.randrange(10_000, 1_000_000)}", 2, _FAMILY_API_ITEM)
        elif kind < 58:
            resource = resources[rng.randrange(len(resources))]
            add(f"/api/v1/{resource}/{rng.randrange(100_000, 10_000_000)}", 2, _FAMILY_API_ITEM)
        elif kind < 63:
            add(f"/api/v1/users/{rng.randrange(1, 2_000_000)}/orders", 2, _FAMILY_API_LIST)
        elif kind < 74:
            width = widths[rng.randrange(len(widths))]
            add(
                f"/static/img/products/{rng.randrange(10_000, 1_000_000)}-{width}w.jpg",
                1,
                _FAMILY_STATIC,
            )
        elif kind < 78:
            word = _WORDS[rng.randrange(len(_WORDS))]
            add(f"/static/js/{word}.{rng.getrandbits(32):08x}.js", 1, _FAMILY_STATIC)
        elif kind < 86:
            add(
                f"/blog/{rng.randrange(2015, 2021)}/{rng.randrange(1, 13):02d}/{_slug(rng)}"
                f"-{rng.randrange(1, 100)}",
                0,
                _FAMILY_PAGE,
            )
        elif kind < 93:
            add(f"/u/{rng.randrange(1, 2_000_000)}", 0, _FAMILY_PAGE)
        else:
            add(f"/docs/{_WORDS[rng.randrange(len(_WORDS))]}/{_slug(rng)}", 0, _FAMILY_PAGE)
    rng.shuffle(rest)
    return [(p.encode(), c, f) for p, c, f in head] + [(p.encode(), c, f) for p, c, f in rest]


def _realistic_sizes(rng: random.Random, path: bytes, cls: int, family: int) -> tuple[int, int]:
    """A path's 200 response sizes: ``low + k`` for ``k`` in ``range(span)``."""
    if path in (b"/favicon.ico", b"/robots.txt"):
        return (1150 if path == b"/favicon.ico" else 68), 1
    if cls == 2:
        if family == _FAMILY_API_LIST:
            return rng.randrange(200, 2_000), rng.randrange(20_000, 400_000)
        return rng.randrange(80, 400), rng.randrange(2_000, 60_000)
    if cls == 0:
        base = rng.randrange(20_000, 120_000)
        return base // 2, base
    base = _base_size(rng, path, cls)
    return base // 2 + 1, base


@lru_cache(maxsize=1)
def _realistic_pools() -> _RealisticPools:
    rng = random.Random(_POOL_SEED + 2)
    ips: list[bytes] = []
    seen: set[bytes] = set()
    while len(ips) < _REAL_CLIENTS:
        ip = _ip(rng)
        if ip not in seen:
            seen.add(ip)
            ips.append(ip)
    ua_table = _table([w for _, _, w in _UA_POOL])
    client_ua = [_UA_POOL[ua_table[rng.getrandbits(16)]] for _ in ips]
    # client k (from 0) has weight ~ 1/(k+20): heavy hitters and a long tail
    ip_table = _table([10**12 // (k + 20) for k in range(len(ips))], _BIG_TABLE_SIZE)

    paths = _realistic_paths(rng)
    path_table = _table([10**12 // (k + 2) for k in range(len(paths))], _BIG_TABLE_SIZE)
    methods = [[_METHODS[i] for i in _table(w)] for w in _METHOD_WEIGHTS]
    statuses = [_table(w) for w in _STATUS_WEIGHTS]
    phrases = tuple(
        (a if a == b else f"{a}+{b}").encode() for a in _WORDS for b in _WORDS + _SLUGS[:5]
    )
    kinds = [(t, m, b, choices or phrases) for t, m, b, choices in _QUERY_KINDS]
    family_tables = [_table(_weights_of(pairs, len(kinds))) for pairs in _FAMILY_QUERIES]
    # a size is drawn per response from a range of at least 64 sizes per slot of
    # the path in its table (a slot is about 4 requests per GB): a size rarely repeats
    slots = [0] * len(paths)
    for index in path_table:
        slots[index] += 1
    sizes = [
        (low, span if span == 1 else max(span, 64 * slots[k]))
        for k, (low, span) in enumerate(_realistic_sizes(rng, p, c, f) for p, c, f in paths)
    ]

    status_fixed: list[bytes | None] = []
    status_low: list[int] = []
    status_span: list[int] = []
    for code in _STATUSES:
        low, span = 150, 9_000  # error pages and bodies
        if code in (b"304", b"204"):
            low, span = 0, 0
        elif code == b"200":
            low, span = 0, 1  # the path's sizes are used
        elif code == b"201":
            low, span = 60, 2_000
        elif code in (b"301", b"302"):
            low, span = 180, 400
        status_fixed.append(b'%s - "' % code if span == 0 else None)
        status_low.append(low)
        status_span.append(max(span, 1))

    site = b"https://www.example.com"
    ref_pairs: list[tuple[bytes, int]] = [(b'-" "', 35_000)]
    # referring pages of the site: the home page, sections and categories
    pages = [(k, path) for k, (path, cls, _) in enumerate(paths) if cls == 0 and len(path) < 24]
    pages = pages[:120]
    raw = [10**6 // (k + 8) for k, _ in pages]
    for (_, path), w in zip(pages, raw, strict=True):
        ref_pairs.append((site + path + b'" "', max(1, 52_000 * w // sum(raw))))
    ref_pairs += _EXTERNAL_REFERERS
    clients: list[_Client] = [
        (ip + b" - - [", b" " + proto + b'" ', ua + b'"\n')
        for ip, (ua, proto, _) in zip(ips, client_ua, strict=True)
    ]
    by_path: list[_Path] = [
        (b" " + p, methods[c], statuses[c], family_tables[f], low, span)
        for (p, c, f), (low, span) in zip(paths, sizes, strict=True)
    ]
    return _RealisticPools(
        clients=[clients[i] for i in ip_table],
        paths=[by_path[i] for i in path_table],
        query_kinds=kinds,
        status_fixed=status_fixed,
        status_low=status_low,
        status_span=status_span,
        referer=_weighted(ref_pairs),
    )


def _weights_of(pairs: Sequence[tuple[int, int]], count: int) -> list[int]:
    weights = [0] * count
    for index, weight in pairs:
        weights[index] += weight
    return weights


# per line: client, path (32 bits each, the top 20 used); method, status,
# referer, malformed, query kind, query choice (16 bits each); size and query
# numbers (32 bits each); clock step, malformed variant (8 bits each) = 30
# bytes, padded to 32
_REAL_RECORD = struct.Struct("<IIHHHHHHIIBBxx")


def _realistic_blocks(rng: random.Random) -> Iterator[list[bytes]]:
    pools = _realistic_pools()
    clients, paths, kinds = pools.clients, pools.paths, pools.query_kinds
    status_fixed, status_low, status_span = pools.status_fixed, pools.status_low, pools.status_span
    status_format = [code + b' %d "' for code in _STATUSES]
    head_sizes = [code + b' - "' for code in _STATUSES]  # HEAD: no body
    ok_format = status_format[0]
    referer, step, garbage = pools.referer, _STEP, _GARBAGE
    head = _METHODS[2]
    shift = _BIG_TABLE_SHIFT
    clock = _apache_clock()
    epoch = _START_EPOCH
    ts = clock.text(epoch)
    record = _REAL_RECORD
    join = b"".join
    while True:
        raw = _random_words(rng, record.size * _BLOCK)
        out: list[bytes] = []
        append = out.append
        for c, p, m, s, r, bad, q, qc, n, qn, dt, v in record.iter_unpack(raw):
            if step[dt]:
                epoch += step[dt]
                ts = clock.text(epoch)
            prefix, proto, agent = clients[c >> shift]
            path, methods, statuses, queries, low, span = paths[p >> shift]
            method = methods[m]
            si = statuses[s]
            if method is head:
                size = head_sizes[si]
            elif si:
                size = status_fixed[si] or status_format[si] % (
                    status_low[si] + n % status_span[si]
                )
            else:
                size = ok_format % (low + n % span)
            k = queries[q]
            if k:
                template, modulus, base, choices = kinds[k]
                choice = choices[qc % len(choices)]
                query = template % ((base + qn % modulus, choice) if modulus else choice)
            else:
                query = b""
            line = join((prefix, ts, method, path, query, proto, size, referer[r], agent))
            if bad < _MALFORMED_SLOTS:
                line = _malformed(garbage, line, v, r)
            append(line)
        yield out


# --------------------------------------------------------------------------
# applog

_LEVEL_WEIGHTS = (
    (b"DEBUG", 2200),
    (b"INFO", 6500),
    (b"WARN", 900),
    (b"ERROR", 370),
    (b"FATAL", 30),
)
_THREADS = (
    [(b"main", 300), (b"scheduling-1", 400), (b"kafka-consumer-1", 500), (b"Timer-0", 100)]
    + [(b"http-nio-8080-exec-%d" % i, 350) for i in range(1, 21)]
    + [(b"pool-2-thread-%d" % i, 200) for i in range(1, 9)]
    + [(b"ForkJoinPool.commonPool-worker-%d" % i, 60) for i in range(1, 5)]
)
_ORDER = b"com.example.OrderService"
_PAY = b"com.example.PaymentService"
_STOCK = b"com.example.InventoryService"
_USER = b"com.example.UserService"
_CART = b"com.example.CartController"
_REQ = b"com.example.web.RequestLoggingFilter"
_CACHE = b"com.example.cache.RedisCacheManager"
_POOL = b"com.example.db.ConnectionPool"
_EVENTS = b"com.example.messaging.OrderEventsListener"
_REPORT = b"com.example.scheduler.ReportJob"
_SQL = b"org.hibernate.SQL"
_KAFKA = b"org.apache.kafka.clients.NetworkClient"
_HIKARI = b"com.zaxxer.hikari.pool.HikariPool"
_SPRING = b"org.springframework.web.servlet.DispatcherServlet"
_APP = b"com.example.Application"

# (level, logger, text before the number, text after it, lowest number, highest
# number, weight within the level)
_MESSAGES: tuple[tuple[bytes, bytes, bytes, bytes, int, int, int], ...] = (
    (
        b"DEBUG",
        _SQL,
        b"select o1_0.id,o1_0.status from orders o1_0 where o1_0.id=",
        b"",
        100000,
        999999,
        30,
    ),
    (b"DEBUG", _SQL, b"update orders set status=? where id=", b"", 100000, 999999, 12),
    (b"DEBUG", _REQ, b"Incoming request id=", b"", 1, 99999999, 25),
    (b"DEBUG", _CACHE, b"Cache miss for key product:", b"", 1000, 9999, 12),
    (b"DEBUG", _POOL, b"Connection acquired in ", b" ms", 0, 40, 10),
    (b"DEBUG", _EVENTS, b"Consumed event offset=", b" partition=3", 1000000, 9999999, 11),
    (b"INFO", _REQ, b"Completed request in ", b" ms", 2, 900, 30),
    (b"INFO", _ORDER, b"Created order ", b" for customer 4711", 100000, 999999, 10),
    (b"INFO", _ORDER, b"Order ", b" moved to state PAID", 100000, 999999, 8),
    (b"INFO", _ORDER, b"Order ", b" shipped", 100000, 999999, 5),
    (b"INFO", _PAY, b"Authorised payment ", b" via card", 1000000, 9999999, 8),
    (b"INFO", _PAY, b"Refund issued for payment ", b"", 1000000, 9999999, 1),
    (b"INFO", _STOCK, b"Reserved stock for SKU ", b"", 1000, 9999, 7),
    (b"INFO", _USER, b"User ", b" logged in", 1, 250000, 6),
    (b"INFO", _USER, b"User ", b" logged out", 1, 250000, 4),
    (b"INFO", _CART, b"GET /api/v1/carts/", b" 200", 1, 500000, 6),
    (b"INFO", _CART, b"POST /api/v1/carts/", b"/items 201", 1, 500000, 4),
    (b"INFO", _CACHE, b"Evicted ", b" keys from cache", 1, 5000, 1),
    (b"INFO", _EVENTS, b"Committed offset ", b"", 1000000, 9999999, 3),
    (b"INFO", _REPORT, b"Daily report generated with ", b" rows", 100, 90000, 1),
    (b"INFO", _SPRING, b"Completed initialization in ", b" ms", 1, 40, 1),
    (b"WARN", _REQ, b"Slow request detected: ", b" ms > 1000 ms", 1001, 9000, 30),
    (b"WARN", _STOCK, b"Stock level low for SKU ", b" (threshold 10)", 1000, 9999, 15),
    (b"WARN", _PAY, b"Retrying payment gateway call, attempt ", b"/3", 1, 3, 15),
    (b"WARN", _USER, b"Failed login for user ", b"", 1, 250000, 15),
    (b"WARN", _POOL, b"Active connections: ", b"/50 (above 80%)", 41, 50, 10),
    (b"WARN", _KAFKA, b"[Consumer clientId=orders-", b"] Node 2 disconnected.", 1, 8, 10),
    (b"WARN", _STOCK, b"Released reservation ", b" after timeout", 100000, 999999, 5),
    (b"ERROR", _ORDER, b"Failed to process order ", b"", 100000, 999999, 30),
    (b"ERROR", _PAY, b"Payment ", b" failed: gateway error", 1000000, 9999999, 25),
    (b"ERROR", _POOL, b"Timeout waiting for connection after ", b" ms", 30000, 30000, 15),
    (
        b"ERROR",
        _HIKARI,
        b"HikariPool-",
        b" - Connection is not available, request timed out",
        1,
        2,
        10,
    ),
    (b"ERROR", _KAFKA, b"[Producer clientId=events-", b"] Got error produce response", 1, 8, 10),
    (b"ERROR", _REQ, b"Request ", b" failed with status 500", 1, 99999999, 10),
    (b"FATAL", _APP, b"Application shutting down after ", b" consecutive failures", 5, 20, 1),
    (b"FATAL", _POOL, b"Database unreachable for ", b" s, giving up", 60, 600, 1),
)
_EXCEPTIONS = (
    b"java.lang.IllegalStateException: Order is not in a payable state",
    b"java.lang.NullPointerException: null",
    b"java.lang.IllegalArgumentException: Quantity must be positive",
    b"java.sql.SQLTransientConnectionException: HikariPool-1 - Connection is not available",
    b"java.net.SocketTimeoutException: Read timed out",
    b"java.util.concurrent.TimeoutException: Payment gateway did not answer in 5000 ms",
    b"org.springframework.dao.DataIntegrityViolationException: could not execute statement",
    b"com.example.payment.GatewayException: upstream returned 502",
)
#: which exceptions (indexes in _EXCEPTIONS) an ERROR or FATAL line of a logger is traced with
_LOGGER_EXCEPTIONS = {
    _ORDER: (0, 2, 6),
    _PAY: (5, 7),
    _POOL: (3,),
    _HIKARI: (3,),
    _KAFKA: (4,),
    _REQ: (1, 4),
    _APP: (3, 6),
}
_FRAMES = (
    b"com.example.OrderService.pay(OrderService.java:142)",
    b"com.example.OrderService.create(OrderService.java:88)",
    b"com.example.PaymentService.authorise(PaymentService.java:57)",
    b"com.example.PaymentGatewayClient.send(PaymentGatewayClient.java:203)",
    b"com.example.InventoryService.reserve(InventoryService.java:61)",
    b"com.example.CartController.addItem(CartController.java:42)",
    b"com.example.db.OrderRepository.save(OrderRepository.java:33)",
    b"sun.reflect.GeneratedMethodAccessor112.invoke(Unknown Source)",
    b"java.base/java.lang.reflect.Method.invoke(Method.java:566)",
    b"org.springframework.aop.support.AopUtils.invokeJoinpointUsingReflection(AopUtils.java:344)",
    b"org.springframework.web.servlet.FrameworkServlet.service(FrameworkServlet.java:883)",
    b"javax.servlet.http.HttpServlet.service(HttpServlet.java:764)",
    b"org.apache.catalina.core.ApplicationFilterChain.doFilter(ApplicationFilterChain.java:227)",
    b"java.base/java.util.concurrent.ThreadPoolExecutor.runWorker(ThreadPoolExecutor.java:1128)",
    b"java.base/java.lang.Thread.run(Thread.java:834)",
)


@dataclass(frozen=True)
class _AppPools:
    heads: list[bytes]  # 65,536 b" LEVEL [thread] logger - text before the number"
    tails: list[bytes]  # per head: b"text after the number\n"
    low: list[int]  # per head: the lowest number
    span: list[int]  # per head: how many numbers
    traced: list[bool]  # per head: may carry a stack trace (ERROR and FATAL)
    traces: list[list[list[bytes]]]  # per head: 32 stack traces, each a list of lines
    step: list[int]  # 256 millisecond steps


@lru_cache(maxsize=1)
def _app_pools() -> _AppPools:
    rng = random.Random(_POOL_SEED + 1)
    level_weight = dict(_LEVEL_WEIGHTS)
    level_sum: dict[bytes, int] = {}
    for level, *_, weight in _MESSAGES:
        level_sum[level] = level_sum.get(level, 0) + weight
    weights = [level_weight[m[0]] * m[6] * 10**6 // level_sum[m[0]] for m in _MESSAGES]
    slots = _table(weights)
    rng.shuffle(slots)  # so that neighbouring 16-bit values differ in level
    threads = _weighted(_THREADS)
    by_exception: list[list[list[bytes]]] = []
    for exception in _EXCEPTIONS:
        group = []
        for _ in range(32):
            start = rng.randrange(len(_FRAMES) - 6)
            frames = _FRAMES[start : start + rng.randrange(3, 7)]
            group.append([exception + b"\n"] + [b"\tat " + f + b"\n" for f in frames])
        by_exception.append(group)
    heads: list[bytes] = []
    tails: list[bytes] = []
    low: list[int] = []
    span: list[int] = []
    traced: list[bool] = []
    traces: list[list[list[bytes]]] = []
    # The tables hold references to a few shared objects, not 65,536 copies:
    # that keeps the objects the hot loop touches in the CPU cache.
    shared: dict[bytes, bytes] = {}
    spans = [hi - lo + 1 for _, _, _, _, lo, hi, _ in _MESSAGES]
    for k in slots:
        level, logger, before, after, lo, _, _ = _MESSAGES[k]
        thread = threads[rng.getrandbits(16)]
        head = b" %s [%s] %s - %s" % (level, thread, logger, before)
        tail = after + b"\n"
        heads.append(shared.setdefault(head, head))
        tails.append(shared.setdefault(tail, tail))
        low.append(lo)
        span.append(spans[k])
        traced.append(level in (b"ERROR", b"FATAL"))
        choices = _LOGGER_EXCEPTIONS.get(logger, ()) if traced[-1] else ()
        traces.append(by_exception[choices[rng.randrange(len(choices))]] if choices else [])
    # milliseconds between events: mean about 35 ms, with a few pauses
    step = [0] * 40 + [rng.randrange(1, 20) for _ in range(160)]
    step += [rng.randrange(20, 150) for _ in range(52)] + [600, 1500, 3000, 5000]
    return _AppPools(
        heads=heads, tails=tails, low=low, span=span, traced=traced, traces=traces, step=step
    )


def _app_clock() -> _Clock:
    """``b"2020-12-01 08:12:33,"``"""
    return _Clock(lambda d: b"%04d-%02d-%02d " % (d.year, d.month, d.day), b"%02d:%02d:%02d,")


# per event: message (16 bits), number (32 bits), clock step, which trace (5 bits used),
# trace or not (8 bits each), padded to 12 bytes
_APP_RECORD = struct.Struct("<HIBBBxxx")
_MILLIS = [b"%03d" % i for i in range(1000)]
_TRACE_SLOTS = 100  # of 256: about 40% of ERROR/FATAL lines carry a stack trace


def _applog_blocks(rng: random.Random) -> Iterator[list[bytes]]:
    pools = _app_pools()
    heads, tails, low, span, traced, traces, step = (
        pools.heads,
        pools.tails,
        pools.low,
        pools.span,
        pools.traced,
        pools.traces,
        pools.step,
    )
    millis = _MILLIS
    clock = _app_clock()
    epoch = _START_EPOCH
    ms = 0
    ts = clock.text(epoch)
    record = _APP_RECORD
    join = b"".join
    while True:
        raw = _random_words(rng, record.size * _BLOCK)
        out: list[bytes] = []
        append = out.append
        for h, n, dt, t, tr in record.iter_unpack(raw):
            ms += step[dt]
            if ms >= 1000:
                epoch += ms // 1000
                ms %= 1000
                ts = clock.text(epoch)
            append(join((ts, millis[ms], heads[h], b"%d" % (low[h] + n % span[h]), tails[h])))
            if traced[h] and tr < _TRACE_SLOTS:
                out += traces[h][t & 31]
        yield out


# --------------------------------------------------------------------------
# the driver


def _fit(block: list[bytes], room: int) -> list[bytes]:
    """The longest head of ``block`` whose lines add up to at most ``room`` bytes."""
    used = 0
    for count, line in enumerate(block):
        used += len(line)
        if used > room:
            return block[:count]
    return block


def _write_all(out: BinaryIO, data: bytes) -> None:
    """Write ``data`` whole, also to a raw stream that may take only part of it."""
    written = out.write(data)
    if isinstance(written, int) and written < len(data):
        view = memoryview(data)[written:]
        while view:
            view = view[out.write(view) :]


_BLOCKS: dict[tuple[str, str], Callable[[random.Random], Iterator[list[bytes]]]] = {
    ("apache_combined", "simple"): _apache_blocks,
    ("apache_combined", "realistic"): _realistic_blocks,
    ("applog", "simple"): _applog_blocks,
}


def generate(
    out: BinaryIO,
    *,
    fmt: str = "apache_combined",
    size: int | None = None,
    lines: int | None = None,
    seed: int = 0,
    shape: str = "simple",
) -> GenerateStats:
    """Write synthetic ``fmt`` lines to ``out``; exactly one of ``size`` and ``lines``.

    ``lines=N`` writes exactly ``N`` lines; ``size=N`` writes the longest run of
    whole lines that is at most ``N`` bytes. The same arguments always give
    the same bytes, and a shorter output is a prefix of a longer one.
    Raises :class:`InvalidParameterError` for an unknown ``fmt``, both or
    neither of ``size`` and ``lines``, or a negative number.
    """
    _check_args(fmt, size, lines, seed, shape)
    written_lines = 0
    written_bytes = 0
    if lines == 0 or size == 0:
        return GenerateStats(lines=0, bytes=0)
    join = b"".join
    for made in _BLOCKS[fmt, shape](random.Random(seed)):
        if lines is not None:
            block = made[: lines - written_lines]
            data = join(block)
            last = written_lines + len(block) >= lines
        else:
            assert size is not None
            block = made
            data = join(block)
            if written_bytes + len(data) > size:
                block = _fit(made, size - written_bytes)
                data = join(block)
                last = True
            else:
                last = written_bytes + len(data) == size
        _write_all(out, data)
        written_lines += len(block)
        written_bytes += len(data)
        if last:
            break
    return GenerateStats(lines=written_lines, bytes=written_bytes)
