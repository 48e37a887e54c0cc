"""The dependencies layer, built without Docker.

``pip install --platform ... --only-binary=:all:`` fetches the manylinux
wheels of the Lambda architecture and Python version (the C extensions of
``mmh3``, ``zstandard``, ``datasketches``, ``numpy``, ``pyarrow`` and
``wrapt`` and the Rust one of ``ormsgpack`` included) into ``<asset>/python``,
which is where Lambda looks for a layer's packages. Then ``prune`` removes what
the functions never import (``PRUNED``: pyarrow's Flight, S3/GCS/Azure/HDFS
file systems, ORC, Substrait bindings, headers, Cython sources and tests,
numpy's tests, zstandard's second backend): 228 MiB as pip leaves it, 149 MiB
pruned (pyarrow 26.0.1 for Python 3.13 on ARM), and a layer over ``limits.MAX_UNZIPPED_BYTES`` less
``CODE_ALLOWANCE`` fails the build (``LayerTooLargeError``).
The Docker image is only the fallback CDK would use if local bundling ever
declined; it never runs here.

The pins are exact (a layer is a build artefact) and must satisfy the ranges
of ``pyproject.toml``'s ``[project] dependencies`` (``tests/test_infra.py``
checks it). ``--no-deps`` with the full closure listed keeps boto3, botocore
and their dependencies out: the Lambda runtime provides them, and a second
botocore on the layer's path would shadow the runtime's under its boto3.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
from pathlib import Path

import jsii
from aws_cdk import AssetHashType, BundlingOptions, DockerImage, ILocalBundling
from aws_cdk import aws_lambda as lambda_
from constructs import Construct

from logmr import limits

#: the Python of the functions (``lambda_.Runtime.PYTHON_3_13``)
PYTHON_VERSION = "3.13"
RUNTIME = lambda_.Runtime.PYTHON_3_13
ARCHITECTURE = lambda_.Architecture.ARM_64
#: manylinux tags the Lambda image accepts (Amazon Linux 2023, glibc 2.34);
#: pip also takes the older manylinux tags below each of these
PLATFORMS = ("manylinux2014_aarch64", "manylinux_2_28_aarch64")
#: the fallback image, never pulled: local bundling always succeeds or fails loudly
FALLBACK_IMAGE = "public.ecr.aws/sam/build-python3.13"

#: the layer's packages: the runtime dependencies of ``logmr`` except boto3,
#: with the closure of ``aws-lambda-powertools[tracer]`` spelled out
LAYER_REQUIREMENTS: tuple[str, ...] = (
    "mmh3==5.3.1",
    "zstandard==0.25.0",
    "google-re2==1.1.20251105",
    "datasketches==5.2.0",
    "ormsgpack==1.13.1",
    "numpy==2.5.5",  # datasketches imports it at import time
    "pyarrow==26.0.1",  # the part files (logmr.storage.parquet)
    "lark==1.3.1",  # the query language's parser (logmr.query)
    "aws-lambda-powertools==3.37.0",
    # the [tracer] extra and the dependencies of Powertools and the X-Ray SDK
    "aws-xray-sdk==2.15.0",
    "wrapt==2.5.2",
    "typing-extensions==4.16.0",
    "jmespath==1.1.0",
)


#: what the functions never import, removed after pip (globs under ``python/``):
#: pyarrow.parquet needs libarrow, libarrow_compute, libarrow_acero,
#: libarrow_dataset, libarrow_substrait (lib.so links them all), libparquet and
#: libarrow_python.so.<ABI> (the name the modules link); the rest goes.
#: ``tests/test_infra.py`` prunes an installed pyarrow so and reads a part file with it.
PRUNED: tuple[str, ...] = (
    "pyarrow/include",
    "pyarrow/includes",
    "pyarrow/src",
    "pyarrow/tests",
    "pyarrow/**/*.pyx",
    "pyarrow/**/*.pxd",
    "pyarrow/**/*.pxi",
    "pyarrow/libarrow_flight.so*",
    "pyarrow/libarrow_python_flight.so*",
    "pyarrow/libarrow_python_parquet_encryption.so*",
    "pyarrow/libarrow_s3.so*",
    "pyarrow/libarrow_python.so",  # copies of libarrow_python.so.<ABI>
    "pyarrow/libarrow_python.so.*.*.*",
    "pyarrow/_flight.*",
    "pyarrow/_s3fs.*",
    "pyarrow/_gcsfs.*",
    "pyarrow/_azurefs.*",
    "pyarrow/_hdfs.*",
    "pyarrow/_orc.*",
    "pyarrow/_dataset_orc.*",
    "pyarrow/_substrait.*",
    "pyarrow/_parquet_encryption.*",
    "pyarrow/_dataset_parquet_encryption.*",
    "pyarrow/_pyarrow_cpp_tests.*",
    "numpy/**/tests",
    "zstandard/_cffi.*",  # the C backend is the one imported
)
#: room kept for the function code asset (``functions/``, about 2 MB)
CODE_ALLOWANCE = 20 * 1024 * 1024


class LayerTooLargeError(RuntimeError):
    """The pruned layer leaves less than ``CODE_ALLOWANCE`` under Lambda's unzipped limit."""


def prune(target: Path) -> None:
    """Remove ``PRUNED`` from a layer's ``python`` folder."""
    for pattern in PRUNED:
        for path in sorted(target.glob(pattern), reverse=True):
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path)
            elif path.exists() or path.is_symlink():
                path.unlink()


def tree_bytes(folder: Path) -> int:
    """The bytes of every file under ``folder`` (what unzipped size counts)."""
    return sum(path.stat().st_size for path in folder.rglob("*") if path.is_file())


def check_size(target: Path) -> int:
    """The layer's unzipped bytes; ``LayerTooLargeError`` past the allowance."""
    size = tree_bytes(target)
    if size > limits.MAX_UNZIPPED_BYTES - CODE_ALLOWANCE:
        raise LayerTooLargeError(
            f"the dependencies layer is {size / 2**20:.1f} MiB unzipped: over Lambda's "
            f"{limits.MAX_UNZIPPED_BYTES / 2**20:.0f} MiB less {CODE_ALLOWANCE / 2**20:.0f} MiB "
            "for the code (prune more: infra/bundling.py PRUNED)"
        )
    return size


def pip_command(target: str | Path) -> list[str]:
    """The one ``pip install`` that fills the layer."""
    command = [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    command += ["--no-compile", "--no-deps", "--only-binary=:all:"]
    for platform in PLATFORMS:
        command += ["--platform", platform]
    command += ["--python-version", PYTHON_VERSION, "--implementation", "cp"]
    command += ["--target", str(target), *LAYER_REQUIREMENTS]
    return command


def layer_hash() -> str:
    """The asset hash: the layer changes only when the pip command or the pruning does."""
    return hashlib.sha256("\n".join(pip_command("python")[3:] + list(PRUNED)).encode()).hexdigest()


@jsii.implements(ILocalBundling)
class PipLayerBundling:
    """Local bundling: pip into ``<output>/python``; no Docker, no source files."""

    def try_bundle(self, output_dir: str, options: object = None, **_: object) -> bool:
        # jsii passes the options struct positionally; the typed interface
        # spells it as keywords: take both, use neither
        target = Path(output_dir) / "python"
        subprocess.run(pip_command(target), check=True)
        # console scripts (jp.py) are of no use in a layer
        shutil.rmtree(target / "bin", ignore_errors=True)
        prune(target)
        check_size(target)
        return True


def dependencies_layer(scope: Construct, construct_id: str) -> lambda_.LayerVersion:
    """The layer every function uses: ``mmh3``, ``zstandard``, pyarrow, Powertools..."""
    here = Path(__file__).resolve().parent
    return lambda_.LayerVersion(
        scope,
        construct_id,
        # the source is not read (the wheels come from PyPI); the custom hash
        # keeps the asset stable across machines and rebuilds
        code=lambda_.Code.from_asset(
            str(here),
            asset_hash_type=AssetHashType.CUSTOM,
            asset_hash=layer_hash(),
            bundling=BundlingOptions(
                image=DockerImage.from_registry(FALLBACK_IMAGE),
                local=PipLayerBundling(),
            ),
        ),
        compatible_runtimes=[RUNTIME],
        compatible_architectures=[ARCHITECTURE],
        # a layer description holds at most 256 characters (cfn-lint E3033)
        description="logmr layer: " + ", ".join(r.replace("==", " ") for r in LAYER_REQUIREMENTS),
    )
