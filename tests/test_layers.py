"""The house plan: imports in ``functions/logmr`` run one way only, down these
layers (docs/architecture.md draws them), so there are no cycles between
packages and no arrow back up.

Every import counts, a function's lazy one included: a lazy import still
ties the two packages together.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit

PACKAGE = Path(__file__).resolve().parents[1] / "functions" / "logmr"

#: lowest first; a unit (a top-level module or subpackage of ``logmr``) may
#: import its own modules and any unit of a lower layer, nothing else
LAYERS: list[set[str]] = [
    {"logmr", "errors"},  # the version; the errors Retry and Catch match
    {"limits", "units", "timerange", "config"},  # AWS quotas, sizes, time ranges, settings
    {"workflow", "spec", "devtools"},  # names and shapes
    {"inputs"},  # reading bytes
    {"formats", "query"},  # bytes into records; the Logs Insights language (jobs compile it)
    {"jobs"},  # records into pairs
    {"mapreduce"},  # map side, shuffle, partitions
    {"layout"},  # where a job's objects live
    {"storage"},  # the store interfaces, the local stores, the part files
    {"aws"},  # the AWS adapters of the stores
    {"plan"},  # cutting, sampling, tuning, cost
    {"tasks"},  # plan, map, reduce, finalize, mark_failed
    {"engine", "report"},  # the local Step Functions; the HTML report
    {"run"},  # the runners: inline, local engine, remote
    {"handlers"},  # the Lambda entry points
    {"cli"},  # the command line
]
RANK = {unit: rank for rank, layer in enumerate(LAYERS) for unit in layer}


def unit_of(dotted: str) -> str:
    """``logmr.plan.tuning`` -> ``plan``; ``logmr`` (its ``__init__``) -> ``logmr``."""
    parts = dotted.split(".")
    return parts[1] if len(parts) > 1 else "logmr"


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported(path: Path) -> set[str]:
    """Every ``logmr`` module or name ``path`` imports, anywhere in the file."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names if alias.name.startswith("logmr"))
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module == "logmr":  # from logmr import config: the module config
                found.update(f"logmr.{alias.name}" for alias in node.names)
            elif node.module.startswith("logmr."):
                found.add(node.module)
        elif isinstance(node, ast.ImportFrom) and node.level:
            raise AssertionError(f"{path}: a relative import; logmr imports absolutely")
    return found


def unit_exists(unit: str) -> bool:
    return unit == "logmr" or (PACKAGE / f"{unit}.py").exists() or (PACKAGE / unit).is_dir()


def arrows() -> list[tuple[str, str, str]]:
    """(module, unit, imported unit) for every import across units."""
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        module = module_name(path)
        for target in imported(path):
            unit = unit_of(target)
            if not unit_exists(unit):  # from logmr import __version__: the package itself
                unit = "logmr"
            if unit != unit_of(module):
                found.append((module, unit_of(module), unit))
    return found


def test_every_unit_has_a_layer() -> None:
    units = {path.stem for path in PACKAGE.glob("*.py") if path.stem != "__init__"}
    units |= {path.name for path in PACKAGE.iterdir() if (path / "__init__.py").exists()}
    assert units | {"logmr"} == set(RANK)


def test_imports_only_go_down_the_layers() -> None:
    upward = [
        f"{module} ({unit}, layer {RANK[unit]}) imports {target} (layer {RANK[target]})"
        for module, unit, target in arrows()
        if RANK[target] >= RANK[unit]
    ]
    assert not upward, "\n".join(upward)


def test_the_check_sees_lazy_and_package_imports(tmp_path: Path) -> None:
    """The walker finds the import forms logmr uses, a lazy one included,
    so the layer test cannot pass by missing an arrow."""
    source = tmp_path / "sample.py"
    source.write_text(
        "from logmr import config, limits\n"
        "import logmr.spec\n"
        "def lazy():\n"
        "    from logmr.run.engine import run_engine\n"
    )
    assert imported(source) == {"logmr.config", "logmr.limits", "logmr.spec", "logmr.run.engine"}
    # and the real tree has lazy arrows to check: the CLI imports its runners lazily
    assert ("logmr.cli.running", "cli", "run") in arrows()
