"""``hf:NAME[:CONFIG][@SPLIT]`` dataset specs, read through the ``datasets`` package (lazily imported).

NAME may also be a local directory in a Hub dataset's layout, which is how the tests run offline.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from surestep.errors import SurestepError


@dataclass(frozen=True)
class HubSpec:
    name: str
    config: str | None
    split: str


def parse_hub_spec(spec: str, *, default_split: str = "test") -> HubSpec:
    """``hf:NAME[:CONFIG][@SPLIT]``; the split defaults to ``default_split``."""
    body = spec.removeprefix("hf:")
    body, _, split = body.partition("@")
    name, _, config = body.partition(":")
    if not name:
        raise SurestepError(f"dataset spec {spec!r}: expected hf:NAME[:CONFIG][@SPLIT]")
    return HubSpec(name, config or None, split or default_split)


def hub_records(hub: HubSpec) -> Iterable[Mapping[str, Any]]:
    """The rows of one split of a Hub dataset, as dicts."""
    try:
        import datasets
    except ImportError:
        raise SurestepError("hf: datasets need the datasets package: pip install 'surestep[hf]'") from None
    try:
        dataset = datasets.load_dataset(hub.name, hub.config, split=hub.split)
    except Exception as exc:  # datasets raises many types; the message is what users need
        raise SurestepError(
            f"cannot load hf:{hub.name} (config {hub.config}, split {hub.split}): {exc}"
        ) from None
    yield from dataset
