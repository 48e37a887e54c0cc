"""The log formats and their registry.

``get_format(name, options)`` builds a format by canonical name or alias
(case-insensitive, ``-`` and ``_`` interchangeable); ``FORMATS`` maps each
canonical name to its class; ``detect_format`` guesses the format of a sample.
The name ``auto`` is not a format: callers resolve it with ``detect_format``.
A name ``nginx:<log_format>``, ``apache:<LogFormat>`` or ``regex:<regex>`` is
a custom format (``formats.custom``).

========================= ================================================
``apache_common``         Apache/NCSA common log format (``access``)
``apache_combined``       combined; aliases ``nginx``, ``nginx_combined``
                          (``access``)
``vhost_combined``        Apache ``%v:%p`` + combined (``access``)
``syslog_rfc3164``        BSD syslog, option ``year`` (``syslog``)
``syslog_rfc5424``        IETF syslog (``syslog``)
``jsonl``                 one JSON object per line (``jsonl``)
``applog``                log4j/Kafka/Python/Spark/ZooKeeper (``applog``)
``alb``                   AWS ALB access log (``aws``)
``cloudfront``            AWS CloudFront standard log (``aws``)
``s3_access``             AWS S3 server access log (``aws``)
``plain``                 every line is a record (``plain``)
========================= ================================================
"""

from __future__ import annotations

from collections.abc import Mapping

from logmr.errors import UnknownFormatError, did_you_mean
from logmr.formats.access import ApacheCombined, ApacheCommon, VhostCombined
from logmr.formats.applog import AppLog
from logmr.formats.aws import Alb, CloudFront, S3Access
from logmr.formats.base import Format
from logmr.formats.custom import custom_format, is_custom
from logmr.formats.detect import Detection, detect_format
from logmr.formats.jsonl import JsonLines
from logmr.formats.plain import Plain
from logmr.formats.syslog import SyslogRFC3164, SyslogRFC5424

__all__ = [
    "FORMATS",
    "Detection",
    "Format",
    "canonical",
    "detect_format",
    "format_names",
    "get_format",
    "option_defaults",
    "resolve_name",
]

#: canonical name -> format class
FORMATS: dict[str, type[Format]] = {
    cls.name: cls
    for cls in (
        ApacheCommon,
        ApacheCombined,
        VhostCombined,
        SyslogRFC3164,
        SyslogRFC5424,
        JsonLines,
        AppLog,
        Alb,
        CloudFront,
        S3Access,
        Plain,
    )
}


def _key(name: str) -> str:
    return name.strip().lower().replace("-", "_")


def _names() -> dict[str, str]:
    names: dict[str, str] = {}
    for cls in FORMATS.values():
        for alias in (cls.name, *cls.aliases):
            names[_key(alias)] = cls.name
    return names


#: normalised name or alias -> canonical name
_NAMES = _names()


def format_names() -> list[str]:
    """The canonical format names, sorted."""
    return sorted(FORMATS)


def resolve_name(name: str) -> str:
    """The canonical name of ``name`` (a canonical name or an alias)."""
    try:
        return _NAMES[_key(name)]
    except KeyError:
        raise UnknownFormatError(
            f"unknown format {name!r}{did_you_mean(name, _NAMES)}"
            f" (known: {', '.join(format_names())})"
        ) from None


def canonical(name: str) -> str:
    """The name a job keeps for ``name``: a custom format's whole text, else
    the canonical name of a built-in format or alias."""
    return name if is_custom(name) else resolve_name(name)


def option_defaults(name: str) -> Mapping[str, str]:
    """The options the format ``name`` takes, with their defaults (a custom
    format takes none)."""
    return {} if is_custom(name) else FORMATS[resolve_name(name)].option_defaults


def get_format(name: str, options: Mapping[str, str] | None = None) -> Format:
    """A new instance of the format ``name`` with ``options``.

    Raises ``UnknownFormatError`` for an unknown name and
    ``InvalidParameterError`` for an unknown or invalid option or a bad
    custom format.
    """
    if is_custom(name):
        return custom_format(name, options)
    return FORMATS[resolve_name(name)](options)
