"""Start-up: help imports no command module and nothing heavy; the command table cannot drift."""

from __future__ import annotations

import importlib
import json
import os
import pkgutil
import subprocess
import sys

import click
import pytest

import surestep.cli
from surestep.cli.main import COMMANDS
from surestep.cli.main import cli as surestep_group
from tests.conftest import REPO_ROOT

HEAVY = frozenset(
    {
        "torch",
        "transformers",
        "scipy",
        "datasets",
        "matplotlib",
        "math_verify",
        "sympy",
        "httpx",
        "httpx2",
        "openai",
        "pyarrow",
        "pandas",
        "ray",
        "vllm",
    }
)
"""Top-level packages that cost from a tenth of a second to seconds to import."""

PROBE = """
import json, sys
from surestep.cli.main import main
try:
    main(sys.argv[1:])
except SystemExit:
    pass
print(json.dumps(sorted(sys.modules)))
"""


def _modules_after(*args: str) -> tuple[str, set[str]]:
    """Run the CLI with ``args`` in a fresh interpreter: (its output, every module it imported)."""
    result = subprocess.run(
        [sys.executable, "-c", PROBE, *args],
        capture_output=True,
        text=True,
        cwd=REPO_ROOT,
        timeout=300,
        check=True,
        env={**os.environ, "COLUMNS": "200"},
    )
    output, _, modules = result.stdout.rstrip("\n").rpartition("\n")
    return output, set(json.loads(modules))


def _heavy(modules: set[str]) -> list[str]:
    return sorted(m for m in modules if m.split(".")[0] in HEAVY)


def test_help_lists_every_command_and_imports_none_of_them():
    output, modules = _modules_after("--help")
    for name, entry in COMMANDS.items():
        assert name in output and entry.short_help.split()[0] in output
    assert _heavy(modules) == []
    command_modules = {entry.target.partition(":")[0] for entry in COMMANDS.values()}
    assert sorted(command_modules & modules) == []
    assert "numpy" not in modules and "rich" not in modules


@pytest.mark.parametrize(
    "args", [(name, "--help") for name in COMMANDS] + [("prm", "score", "--help"), ("prm", "run", "--help")]
)
def test_command_help_imports_nothing_heavy(args):
    output, modules = _modules_after(*args)
    assert "Usage: surestep " + " ".join(args[:-1]) in output
    assert _heavy(modules) == []


IMPORT_PROBE = """
import json, sys
import surestep
names = [surestep.__version__, *dir(surestep)]
print(json.dumps(sorted(sys.modules)))
"""


def test_import_surestep_loads_nothing_heavy_and_the_api_on_first_use():
    result = subprocess.run(
        [sys.executable, "-c", IMPORT_PROBE],
        capture_output=True,
        text=True,
        cwd=REPO_ROOT,
        timeout=300,
        check=True,
    )
    modules = set(json.loads(result.stdout))
    assert _heavy(modules) == []
    assert not {"numpy", "rich", "asyncio", "click", "surestep.api", "surestep.runs"} & modules
    import surestep

    assert set(surestep.__all__) <= set(dir(surestep))
    for name in surestep.__all__:
        assert getattr(surestep, name) is not None, name
    with pytest.raises(AttributeError, match="no attribute 'nonsense'"):
        _ = surestep.nonsense


def test_score_help_loads_neither_numpy_nor_the_run_machinery():
    _, modules = _modules_after("score", "--help")
    assert not {"numpy", "rich", "asyncio", "surestep.runs.pipeline"} & modules


def test_the_table_holds_each_commands_own_short_help():
    for name, entry in COMMANDS.items():
        command = entry.load()
        assert command.name == name
        assert entry.short_help == command.get_short_help_str(limit=10_000), name


@pytest.mark.parametrize("width", [60, 80, 200])
def test_help_reads_as_click_would_write_it_with_every_command_imported(width):
    eager = click.Group("surestep", commands={name: entry.load() for name, entry in COMMANDS.items()})
    written = []
    for group in (surestep_group, eager):
        formatter = click.HelpFormatter(width=width)
        group.format_commands(click.Context(group, info_name="surestep"), formatter)
        written.append(formatter.getvalue())
    assert written[0] == written[1]
    assert written[0].startswith("Commands:\n") and written[0].count("\n") > len(COMMANDS)


def test_every_command_defined_in_the_cli_package_is_registered():
    defined: dict[str, click.Command] = {}
    grouped: set[int] = set()
    for info in pkgutil.iter_modules(surestep.cli.__path__):
        module = importlib.import_module(f"surestep.cli.{info.name}")
        for value in vars(module).values():
            if isinstance(value, click.Command) and value.name:
                defined[f"{module.__name__}:{value.name}"] = value
            if isinstance(value, click.Group):
                grouped.update(id(command) for command in value.commands.values())
    top_level = {
        key
        for key, command in defined.items()
        if id(command) not in grouped and command is not surestep_group
    }
    registered = {f"{entry.target.partition(':')[0]}:{name}" for name, entry in COMMANDS.items()}
    assert top_level == registered


def test_an_unknown_command_is_a_usage_error(cli):
    result = cli("nonsense")
    assert result.returncode == 2 and "No such command 'nonsense'" in result.stderr


def test_the_grading_package_exports_every_name_from_its_module():
    import surestep.grading as grading

    for name in grading.__all__:
        value = getattr(grading, name)
        assert value.__module__.startswith("surestep.grading."), name
    assert set(grading.__all__) == set(vars(grading)["_HOMES"])
    with pytest.raises(AttributeError):
        _ = grading.not_a_name
