"""``logmr report``: a job's record and results as one self-contained HTML page
(``data`` gathers and sorts them by shape, ``svg`` draws, ``page`` lays out,
``script`` sorts and filters its tables in the browser)."""

from __future__ import annotations

from pathlib import Path

from logmr.report.data import ReportData, analyse, gather
from logmr.report.page import render
from logmr.storage.parts import JobResults

__all__ = ["ReportData", "analyse", "gather", "render", "write_report"]


def write_report(store: JobResults, job_id: str, path: Path | str) -> Path:
    """Write job ``job_id``'s report to ``path`` (written whole, then renamed)."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    temp = target.with_name(f".{target.name}.partial")
    temp.write_text(render(gather(store, job_id)), encoding="utf-8")
    temp.replace(target)
    return target
