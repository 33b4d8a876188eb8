"""The benchmark suite's quick mode runs end to end and produces every figure (no timing checks)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any, cast

import pytest
from bench.run import BENCHMARKS

REPO_ROOT = Path(__file__).resolve().parents[2]
# How many rows each benchmark contributes to the table.
EXPECTED_ROWS = {"P1": 4, "P2": 1, "P3": 8, "P4": 1, "P5": 2, "P6": 1, "P7": 2, "P8": 1}


@pytest.mark.slow
@pytest.mark.transport
def test_quick_run_writes_the_full_table(tmp_path: Path) -> None:
    completed = subprocess.run(
        [sys.executable, "-m", "bench.run", "--quick", "--out", str(tmp_path)],
        cwd=str(REPO_ROOT),
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert completed.returncode == 0, completed.stdout[-3000:] + completed.stderr[-5000:]

    payload = cast(dict[str, Any], json.loads((tmp_path / "results-quick.json").read_text(encoding="utf-8")))
    assert payload["meta"]["mode"] == "quick"
    assert payload["meta"]["errors"] == []
    figures = cast(list[dict[str, Any]], payload["figures"])

    assert {ident for ident, _, _ in BENCHMARKS} == set(EXPECTED_ROWS)
    counts = {ident: sum(1 for f in figures if f["id"] == ident) for ident in EXPECTED_ROWS}
    assert counts == EXPECTED_ROWS
    for figure in figures:
        assert figure["error"] is None, figure
        assert isinstance(figure["ours"], int | float), figure
        assert figure["target"] and figure["unit"], figure
        assert isinstance(figure["met"], bool), figure
        assert figure["reference_label"], figure

    markdown = (tmp_path / "results-quick.md").read_text(encoding="utf-8")
    assert "| Id | Figure | Ours | Reference | Ratio / Δ | Target | Met |" in markdown
    for figure in figures:
        row = f"| {figure['id']} | {figure['name']} |"
        assert row in markdown, row
        assert row in completed.stdout, row  # the runner prints the table at the end
