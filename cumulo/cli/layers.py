"""``cumulo layer`` (publish, list, versions, get, delete) and ``cumulo package``."""

from __future__ import annotations

import shutil
from pathlib import Path

import click

from cumulo.cli._common import aws_errors as _aws_errors, open_cumulo as _open, print_json

__all__ = ["layer", "package"]


@click.group()
def layer() -> None:
    """Layers: zips of libraries and tools that functions see under /opt."""


@layer.command("publish")
@click.argument("name")
@click.option("--content", required=True, type=click.Path(exists=True, path_type=Path),
              help="A folder (zipped for you) or a .zip file.")
@click.option("--runtime", "runtimes", multiple=True, help="A compatible runtime (repeatable).")
@click.option("--architecture", "architectures", multiple=True, help="x86_64 or arm64 (repeatable).")
@click.option("--description", default="")
@click.option("--license-info", default=None)
@click.pass_context
@_aws_errors
def layer_publish(ctx: click.Context, name: str, content: Path, runtimes: tuple[str, ...],
                  architectures: tuple[str, ...], description: str, license_info: str | None) -> None:
    """Publish a new version of layer NAME; prints AWS's PublishLayerVersion document."""
    print_json(_open(ctx).publish_layer_version(name, content, list(runtimes), description, list(architectures),
                                                license_info))


@layer.command("list")
@click.option("--runtime", default=None, help="Only layers with a version compatible with this runtime.")
@click.pass_context
@_aws_errors
def layer_list(ctx: click.Context, runtime: str | None) -> None:
    """List layers with their latest (matching) version's ARN."""
    for item in _open(ctx).list_layers(runtime):
        click.echo(f"{item['LayerName']}  {item['LatestMatchingVersion']['LayerVersionArn']}")


@layer.command("versions")
@click.argument("name")
@click.pass_context
@_aws_errors
def layer_versions(ctx: click.Context, name: str) -> None:
    """List a layer's versions, newest first."""
    for item in _open(ctx).list_layer_versions(name):
        click.echo(f"{item['Version']}  {item['LayerVersionArn']}  {item['CreatedDate']}  {item['Description']}")


@layer.command("get")
@click.argument("name")
@click.argument("version", type=int)
@click.pass_context
@_aws_errors
def layer_get(ctx: click.Context, name: str, version: int) -> None:
    """Print AWS's GetLayerVersion document."""
    print_json(_open(ctx).get_layer_version(name, version))


@layer.command("delete")
@click.argument("name")
@click.argument("version", type=int)
@click.pass_context
@_aws_errors
def layer_delete(ctx: click.Context, name: str, version: int) -> None:
    """Delete one layer version (functions using it keep working)."""
    _open(ctx).delete_layer_version(name, version)


@click.command("package")
@click.argument("folder", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Where to write the zip [default: ./FOLDER.zip].")
@click.option("--runtime", default="python3.11", show_default=True,
              help="The runtime the packages are installed for.")
@click.option("--layer", "as_layer", is_flag=True, help="Lay the zip out as a layer (everything under python/, or nodejs/ for a Node.js runtime).")
@click.option("--cache-dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Build cache [default: $CUMULO_PACKAGE_CACHE or ~/.cache/cumulo/package].")
@click.option("--pip-arg", "pip_args", multiple=True, metavar="ARG",
              help="Passed to pip install (repeatable), e.g. --pip-arg=--no-index --pip-arg=--find-links=wheels/.")
@_aws_errors
def package(folder: Path, output: Path | None, runtime: str, as_layer: bool, cache_dir: Path | None,
            pip_args: tuple[str, ...]) -> None:
    """Build a deployment zip from FOLDER, installing its requirements.txt with pip (cached by content)."""
    from cumulo.packaging import build_package

    target = output or Path.cwd() / f"{folder.resolve().name}.zip"
    result = build_package(folder, runtime, cache_dir, as_layer, list(pip_args), exclude=[target])
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(result.zip_path, target)
    click.echo(f"{target}  {result.size} bytes{'  (cached)' if result.cached else ''}")
