"""The CDK app: ``npx cdk synth`` runs ``python -m infra.app`` (``cdk.json``)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

from aws_cdk import App, Validations

# logmr is installed in the venv (``pip install -e .[cdk]``); without that,
# take it from functions/ beside this folder
if importlib.util.find_spec("logmr") is None:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "functions"))

from cdk_nag import AwsSolutionsChecks

from infra.stack import STACK_NAME, LogmrStack


def build(app: App | None = None) -> tuple[App, LogmrStack]:
    """The app with the ``Logmr`` stack and the cdk-nag AwsSolutions checks."""
    app = app or App()
    # environment-agnostic: account and region come from the deploying CLI
    stack = LogmrStack(app, STACK_NAME)
    Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    return app, stack


def main() -> None:
    app, _ = build()
    app.synth()


if __name__ == "__main__":
    main()
