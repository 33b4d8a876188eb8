"""Fixtures for the process-level tests: Node 22 and sandbox servers on loopback ports."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.helpers import Inspector, ServerProcess, http_server, node22


@pytest.fixture(scope="session")
def node() -> Path:
    """Node 22 (installed into .ci/node/ on first use); a missing Node is an error, never a skip."""
    return node22()


@pytest.fixture
def inspector(node: Path, tmp_path: Path) -> Inspector:
    return Inspector(node=node, home=tmp_path / "home")


@pytest.fixture(scope="module")
def sandbox_http(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """One streamable-HTTP sandbox server (with legacy SSE at /sse) shared by a test module."""
    with http_server(tmp_path_factory.mktemp("http-server")) as server:
        yield server
