"""The official MCP conformance suite against the sandbox server over streamable HTTP.

Scenarios that call the suite's fixture names (test_simple_text, test://static-text, ...) are
listed in .ci/conformance-baseline.yml; every other scenario must pass, and a baseline entry
that starts passing fails the run too (the suite reports it as stale).
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest

from tests.integration.helpers import CONFORMANCE_BASELINE, CONFORMANCE_JS, ServerProcess

pytestmark = pytest.mark.transport


def test_conformance_suite_passes_except_fixture_scenarios(
    node: Path, sandbox_http: ServerProcess, tmp_path: Path
) -> None:
    results = tmp_path / "conformance"
    done = subprocess.run(
        [
            str(node),
            str(CONFORMANCE_JS),
            "server",
            "--url",
            sandbox_http.mcp_url,
            "--suite",
            "all",
            "--expected-failures",
            str(CONFORMANCE_BASELINE),
            "-o",
            str(results),
        ],
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        timeout=300,
        check=False,
    )
    code = done.returncode
    summary = done.stdout[done.stdout.find("=== SUMMARY ===") :]
    assert code == 0, f"conformance exited {code}:\n{summary}\n{unexpected_failures(results)}\n{done.stderr[-3000:]}"
    assert "Baseline check passed" in done.stdout


def unexpected_failures(results: Path) -> str:
    """The failing checks of scenarios not in the baseline, with the suite's messages."""
    expected = set(re.findall(r"^\s*-\s*([a-z0-9-]+)", CONFORMANCE_BASELINE.read_text(), flags=re.MULTILINE))
    lines: list[str] = []
    for checks_file in sorted(results.glob("*/checks.json")):
        scenario = re.sub(r"^server-|-\d{4}-\d\d-\d\dT[\d-]+Z$", "", checks_file.parent.name)
        if scenario in expected:
            continue
        for check in json.loads(checks_file.read_text()):
            if check.get("status") in ("FAILURE", "WARNING"):
                lines.append(f"{scenario}: {check.get('id')}: {check.get('errorMessage') or check.get('description')}")
    return "\n".join(lines) or "(no unexpected failing check found in checks.json)"
