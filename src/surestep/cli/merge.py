"""``surestep merge``: combine the shard directories of one run (``--shard i/N``) into one."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click


@click.command("merge")
@click.argument(
    "shards", nargs=-1, required=True, type=click.Path(file_okay=False, exists=True, path_type=Path)
)
@click.option(
    "--out",
    required=True,
    type=click.Path(path_type=Path),
    help="The merged run directory (new, or an empty directory).",
)
@click.option("--json", "as_json", is_flag=True, help="Print what was merged as one JSON object.")
def merge_command(shards: tuple[Path, ...], out: Path, as_json: bool) -> None:
    """Combine the shard directories of one run (made with --shard i/N) into one run directory."""
    from surestep.runs.merge import describe, merge_shards

    summary = merge_shards(list(shards), out)
    if as_json:
        sys.stdout.write(json.dumps(summary.to_json()) + "\n")
    click.echo(describe(summary), err=True)
