"""Layering rules from docs/ARCHITECTURE.md, checked on the source text."""

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "genmcp"


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def _modules(package: str) -> list[Path]:
    return sorted((SRC / package).rglob("*.py"))


@pytest.mark.parametrize("package", ["providers", "jobs"])
def test_providers_and_jobs_never_import_mcp(package: str) -> None:
    offenders = [p.name for p in _modules(package) if any(n == "mcp" or n.startswith("mcp.") for n in _imports(p))]
    assert offenders == []


def test_tools_never_import_httpx_directly() -> None:
    offenders = [p.name for p in _modules("tools") if any(n == "httpx" or n.startswith("httpx.") for n in _imports(p))]
    assert offenders == []


def test_providers_do_not_depend_on_jobs_tools_or_server() -> None:
    layers = ("genmcp.jobs", "genmcp.tools", "genmcp.server")
    offenders = [p.name for p in _modules("providers") if any(n.startswith(layers) for n in _imports(p))]
    assert offenders == []


def test_no_print_calls_anywhere_in_the_package() -> None:
    offenders: list[str] = []
    for path in SRC.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "print":
                offenders.append(f"{path.name}:{node.lineno}")
    assert offenders == []
