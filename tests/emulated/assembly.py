"""The ``Logmr`` stack as ``cdk deploy`` publishes it: the template and the
file assets it names (the function code, the dependencies layer, the template
itself), read from the cloud assembly's manifests after an in-process
synthesis (the Python CDK API: no CDK CLI, no Docker).

Bundling is skipped, as in tests/test_infra.py: the layer's bundling is a
``pip install`` of the Lambda platform's wheels from PyPI. The layer asset is
then its unbundled source folder (``infra/``), which no emulated function
loads: the handlers run on this Python's packages (``emulated.lambdas``).
"""

from __future__ import annotations

import io
import json
import zipfile
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from conftest import REPO


def offline_context() -> dict[str, Any]:
    """``cdk.json``'s context (feature flags and all), bundling skipped."""
    context: dict[str, Any] = json.loads((REPO / "cdk.json").read_text())["context"]
    return {**context, "aws:cdk:bundling-stacks": []}


@dataclass(frozen=True)
class FileAsset:
    """A file asset of the asset manifest: a folder zipped or a file as it
    is, bound for ``bucket``/``key`` (``${AWS::AccountId}``, ``${AWS::Region}``
    and ``${AWS::Partition}`` in them filled at publication)."""

    name: str
    path: Path
    packaging: str
    bucket: str
    key: str

    def body(self) -> bytes:
        if self.packaging == "file":
            return self.path.read_bytes()
        if self.packaging != "zip":
            raise ValueError(f"asset {self.name}: packaging {self.packaging!r} is not published")
        data = io.BytesIO()
        with zipfile.ZipFile(data, "w", zipfile.ZIP_DEFLATED) as archive:
            for path in sorted(self.path.rglob("*")):
                if path.is_file():
                    archive.write(path, path.relative_to(self.path).as_posix())
        return data.getvalue()


@dataclass(frozen=True)
class Assembly:
    """The synthesized stack: its ``template`` (which ``template_asset``
    carries to the bootstrap bucket), its other ``assets``, and the bootstrap
    version parameter the template reads."""

    stack_name: str
    template: dict[str, Any]
    template_asset: FileAsset
    assets: tuple[FileAsset, ...]
    bootstrap_parameter: str
    bootstrap_version: int

    def with_template(self, template: dict[str, Any]) -> Assembly:
        """The same assembly with another template (a test's altered copy)."""
        return replace(self, template=template)

    def template_body(self) -> bytes:
        return json.dumps(self.template).encode()


def synthesize(outdir: Path) -> Assembly:
    """Synthesize the app into ``outdir`` and read what a deployment publishes."""
    from aws_cdk import App

    from infra.app import build

    app, stack = build(App(context=offline_context(), outdir=str(outdir)))
    app.synth()
    manifest = json.loads((outdir / "manifest.json").read_text())["artifacts"]
    properties = manifest[stack.artifact_id]["properties"]
    assets_file = manifest[f"{stack.artifact_id}.assets"]["properties"]["file"]
    assets = []
    for asset in json.loads((outdir / assets_file).read_text())["files"].values():
        (destination,) = asset["destinations"].values()
        assets.append(
            FileAsset(
                name=asset["displayName"],
                path=outdir / asset["source"]["path"],  # an absolute path stays as it is
                packaging=asset["source"]["packaging"],
                bucket=destination["bucketName"],
                key=destination["objectKey"],
            )
        )
    template_url = properties["stackTemplateAssetObjectUrl"]
    (template_asset,) = (a for a in assets if template_url == f"s3://{a.bucket}/{a.key}")
    return Assembly(
        stack_name=stack.stack_name,
        template=json.loads((outdir / properties["templateFile"]).read_text()),
        template_asset=template_asset,
        assets=tuple(a for a in assets if a is not template_asset),
        bootstrap_parameter=properties["bootstrapStackVersionSsmParameter"],
        bootstrap_version=int(properties["requiresBootstrapStackVersion"]),
    )
