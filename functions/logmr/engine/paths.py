"""Reference paths, ResultPath and payload templates as the local interpreter
applies them, and the errors Step Functions names their failures with
("Handling errors in Step Functions workflows", concepts-error-handling.html;
the States Language specification's "Errors"; ``engine.interpreter``'s
docstring says which state fields raise which)."""

from __future__ import annotations

import copy
import re
from typing import Any

from logmr.engine.execution import StatesError, UnsupportedDefinitionError, json_text

#: a path that finds nothing in an InputPath, OutputPath, ... (uncatchable)
RUNTIME = "States.Runtime"
#: a payload template's ``"field.$"`` path that finds nothing
PARAMETER_PATH_FAILURE = "States.ParameterPathFailure"
#: a ResultPath that cannot be applied to the state's input
RESULT_PATH_MATCH_FAILURE = "States.ResultPathMatchFailure"
#: the reference paths this interpreter reads: ``$``- or ``$$``-rooted fields and indexes
PATH = re.compile(r"^\$\$?((\.[A-Za-z_][A-Za-z0-9_\-]*)|(\[\d+\]))*$")
#: one step of a path: a field name or an index
STEP = re.compile(r"\.([A-Za-z_][A-Za-z0-9_\-]*)|\[(\d+)\]")


def check_path(path: str, where: str) -> None:
    """Refuse a path this interpreter does not read, naming ``where`` it is."""
    if not PATH.match(path):
        raise UnsupportedDefinitionError(f"{where}: path {path!r} is not supported")


def read(path: str, data: Any, context: dict[str, Any]) -> Any:
    """The value at a reference path (``$``-rooted in data, ``$$``-rooted in
    the context); one that finds nothing is ``States.Runtime``, the error of
    an InputPath or OutputPath (a template's is ``fill``'s own)."""
    root, rest = (context, path[2:]) if path.startswith("$$") else (data, path[1:])
    value: Any = root
    for name, index in STEP.findall(rest):
        if name and isinstance(value, dict) and name in value:
            value = value[name]
        elif index and isinstance(value, list) and int(index) < len(value):
            value = value[int(index)]
        else:
            steps = "".join(f"[{int(i)}]" if i else f"['{n}']" for n, i in STEP.findall(rest))
            raise StatesError(
                RUNTIME, f"Invalid path '{path}' : No results for path: ${steps}"
            ) from None
    return value


def write(path: str | None, data: Any, result: Any) -> Any:
    """``data`` with ``result`` placed at ``path`` (ResultPath semantics): the
    fields on the way are created when missing; one that holds something other
    than an object, or an input that is not an object, cannot take it
    (``States.ResultPathMatchFailure``)."""
    if path is None:
        return data
    if path == "$":
        return result
    names = re.findall(r"\.([A-Za-z_][A-Za-z0-9_\-]*)", path)
    if not isinstance(data, dict):
        raise StatesError(
            RESULT_PATH_MATCH_FAILURE,
            f"Unable to apply ResultPath '{path}' to input {json_text(data)[:200]}:"
            " the input is not an object",
        )
    target = copy.deepcopy(data)
    node = target
    for depth, name in enumerate(names[:-1]):
        if name not in node:
            node[name] = {}
        elif not isinstance(node[name], dict):
            field = "$." + ".".join(names[: depth + 1])
            raise StatesError(
                RESULT_PATH_MATCH_FAILURE,
                f"Unable to apply ResultPath '{path}': {field} is not an object",
            )
        node = node[name]
    node[names[-1]] = result
    return target


def fill(template: Any, data: Any, context: dict[str, Any]) -> Any:
    """Parameters / ItemSelector / ResultSelector: ``"k.$"`` fields take a
    path's value; a path that finds nothing is ``States.ParameterPathFailure``."""
    if isinstance(template, dict):
        out: dict[str, Any] = {}
        for key, value in template.items():
            if key.endswith(".$"):
                try:
                    out[key[:-2]] = read(value, data, context)
                except StatesError:
                    raise StatesError(
                        PARAMETER_PATH_FAILURE,
                        f"The JSONPath '{value}' specified for the field '{key}'"
                        " could not be found in the input",
                    ) from None
            else:
                out[key] = fill(value, data, context)
        return out
    if isinstance(template, list):
        return [fill(item, data, context) for item in template]
    return template


def check_template(template: Any, where: str) -> None:
    """Every ``"k.$"`` path of a payload template is one this interpreter reads."""
    if isinstance(template, dict):
        for key, value in template.items():
            if key.endswith(".$"):
                if not isinstance(value, str):
                    raise UnsupportedDefinitionError(f"{where}: {key!r} must be a path")
                check_path(value, f"{where}, {key}")
            else:
                check_template(value, where)
    elif isinstance(template, list):
        for item in template:
            check_template(item, where)
