"""The report's grader-audit section: present for an audited run (with its figures and every
disagreement, escaped), absent otherwise; the library summary it is drawn from."""

from __future__ import annotations

from collections.abc import Iterator
from html.parser import HTMLParser

import pytest

from surestep.grading.judge import JudgeConfig
from surestep.report.data import load_stability_run
from surestep.report.html import render_report
from surestep.runs.audit import AuditSettings, audit_summary, run_audit
from surestep.runs.runner import open_run
from tests.conftest import ServerProcess
from tests.runs.audit_run import make_run


@pytest.fixture
def judge() -> Iterator[ServerProcess]:
    server = ServerProcess("tests.grading.judge_server")
    yield server
    server.stop()


class _Tables(HTMLParser):
    """The rows (lists of cell texts) of every table in the HTML fed to it."""

    def __init__(self) -> None:
        super().__init__()
        self.rows: list[list[str]] = []
        self._cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list) -> None:
        if tag == "tr":
            self.rows.append([])
        elif tag in ("td", "th"):
            self._cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._cell is not None:
            self.rows[-1].append("".join(self._cell).strip())
            self._cell = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)


def _audit_html(html: str) -> str:
    start = html.index('<h3 id="grader-audit">')
    return html[start : html.index("<h3>Problems</h3>", start)]


def test_an_audited_run_has_the_section_and_an_unaudited_one_does_not(judge, tmp_path):
    run = make_run(tmp_path / "run")
    plain = render_report([load_stability_run(run, resamples=0)], [])
    assert "grader-audit" not in plain and "Grader audit" not in plain
    store, manifest = open_run(run)
    with store:
        assert audit_summary(store, manifest) is None
        ran = run_audit(store, manifest, JudgeConfig(base_url=judge.base_url, model="judge <1>"), seed=2)
        stored = audit_summary(store, manifest)
        assert stored == ran  # the latest audit, read back from the store
        assert (
            audit_summary(store, manifest, AuditSettings("judge <1>", 3, 200)).pending == 12
        )  # another seed
    view = load_stability_run(run, resamples=0)
    assert view.audit == ran
    section = _audit_html(render_report([view], []))
    assert "judge judge &lt;1&gt;, seed 2, sample 200" in section and "judge <1>" not in section
    parser = _Tables()
    parser.feed(section)
    rows = {row[0]: row[1:] for row in parser.rows if row}
    # verdict: draws, sampled, judged, agreement (with its Wilson interval), judge errors
    assert rows["correct"][:3] == ["5", "5", "5"] and rows["correct"][3].startswith("60.0")
    assert rows["incorrect"][:3] == ["5", "5", "4"] and rows["incorrect"][3].startswith("75.0")
    assert rows["incorrect"][4] == "1"
    assert rows["false positives: rules say correct, the judge incorrect"][0].startswith("40.0")
    assert rows["accuracy by the rules (exact)"] == ["41.7"]
    disagreements = {(row[0], row[1]) for row in parser.rows if row and row[0] in {"half", "xy", "twelve"}}
    assert disagreements == {("half", "0"), ("half", "1"), ("xy", "0"), ("twelve", "2")}
    assert "4 disagreement(s)" in section and "not audited: 4 unscorable" in section
