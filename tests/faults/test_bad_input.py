"""The bad-input catalog: hostile or broken input is refused before anything reaches a provider.

- Tool arguments go through a real MCP client (`mcp.Client(build_server(...))`): oversized strings,
  wrong types and enums, NUL bytes and lone surrogates, deep nesting, path-like and absolute names,
  bad URLs, malformed job ids. Each yields one tool error (a short line saying what to fix), the
  simulators' create counters stay 0, and the server keeps answering.
- Raw bodies go over HTTP (uvicorn on loopback, `build_http_app`): 4 MiB + 1 → 413, JSON nested 1000
  deep and invalid UTF-8 → 4xx, never a crash.
- URLs and file names the *provider* hands back (downloads, Banatie reference images) are fenced the
  same way: https only, public addresses only on every redirect hop, names chosen by the server.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncGenerator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, cast

import anyio
import httpx
import pytest
import uvicorn
from mcp import Client
from mcp.types import CallToolResult, TextContent
from pydantic import SecretStr

from genmcp.jobs.downloads import Downloader, DownloadError
from genmcp.jobs.engine import JobEngine
from genmcp.jobs.scheduler import poll_job
from genmcp.jobs.store import JobStore
from genmcp.providers.base import ProviderName
from genmcp.providers.errors import ProviderValidationError
from genmcp.server.app import build_server
from genmcp.server.http import build_http_app
from genmcp.server.runtime import Runtime
from genmcp.server.settings import ProviderSettings, Settings
from genmcp.simulators.abyssale_data import PRODUCT, SOCIAL
from genmcp.simulators.common import free_port
from genmcp.simulators.files import image_bytes
from tests.faults.harness import KEYS, NEXT_STEP, SPECS, Sim, Sleeps, open_provider

UUID = "64238d01-d402-474b-8c2d-fbc957e9d290"


def nested(depth: int) -> dict[str, Any]:
    """{"a": {"a": ... {}}}, `depth` levels deep (the MCP client itself refuses to serialise ~300)."""
    root: dict[str, Any] = {}
    current = root
    for _ in range(depth):
        inner: dict[str, Any] = {}
        current["a"] = inner
        current = inner
    return root


def _settings(tmp_path: Path, urls: dict[ProviderName, str]) -> Settings:
    def provider(name: ProviderName) -> ProviderSettings | None:
        url = urls.get(name)
        return ProviderSettings(api_key=SecretStr(KEYS[name]), base_url=url) if url else None

    # No trusted origins: reference URLs get the full public-address check, as in production.
    return Settings(
        data_dir=tmp_path / "data",
        output_dir=tmp_path / "out",
        gamma=provider("gamma"),
        abyssale=provider("abyssale"),
        banatie=provider("banatie"),
        wait_seconds=5,
    )


@asynccontextmanager
async def mcp_client(tmp_path: Path, *sims: Sim) -> AsyncGenerator[Client]:
    settings = _settings(tmp_path, {sim.name: sim.base_url for sim in sims})
    async with Client(build_server(settings, poll_interval_scale=0.1)) as client:
        yield client


def _text(result: CallToolResult) -> str:
    first = result.content[0]
    assert isinstance(first, TextContent)
    return first.text


def _creates(sim: Sim) -> int:
    return SPECS[sim.name].count(sim, "create") + (
        sim.count("POST", "/banner-builder/") if sim.name == "abyssale" else 0
    )


async def _refuse_all(client: Client, sims: Sequence[Sim], cases: list[tuple[str, str, dict[str, Any]]]) -> None:
    """Call every case; each must be one tool error with a next step, and reach no provider at all."""
    wrong: list[str] = []
    for label, tool, arguments in cases:
        result = await client.call_tool(tool, arguments)
        reached = [sim.name for sim in sims if sim.total()]
        if not result.is_error or reached:
            wrong.append(f"{label}: is_error={result.is_error} reached={reached} {_text(result)[:120]!r}")
            for sim in sims:
                sim.reset()
            continue
        text = _text(result)
        assert len(text) < 1500 and "\n" not in text.strip(), (label, text)
        assert "Traceback" not in text and "errors.pydantic.dev" not in text, (label, text)
        assert NEXT_STEP.search(text), (label, text)
        assert all(KEYS[sim.name] not in text for sim in sims)
    assert not (await client.call_tool("list_generations", {})).is_error, "the server stopped answering"
    assert wrong == [], "accepted or sent upstream:\n" + "\n".join(wrong)


# -- tool arguments through a real MCP client ------------------------------------------------------

TEN_MB = "x" * 10_000_000

GAMMA_CASES: list[tuple[str, str, dict[str, Any]]] = [
    # sizes
    ("input_text 400,001 chars", "gamma_create_generation", {"input_text": "x" * 400_001}),
    ("input_text 10 MB", "gamma_create_generation", {"input_text": TEN_MB}),
    ("empty input_text", "gamma_create_generation", {"input_text": ""}),
    ("additional_instructions 5,001", "gamma_create_generation", {"input_text": "x", "additional_instructions": "y" * 5001}),
    ("theme_id 129 chars", "gamma_create_generation", {"input_text": "x", "theme_id": "t" * 129}),
    ("11 folder ids", "gamma_create_generation", {"input_text": "x", "folder_ids": ["f"] * 11}),
    ("10,000 folder ids", "gamma_create_generation", {"input_text": "x", "folder_ids": ["f"] * 10_000}),
    ("themes query 201", "gamma_list_themes", {"query": "q" * 201}),
    ("themes cursor 501", "gamma_list_themes", {"cursor": "c" * 501}),
    # types and enums
    ("format wrong case", "gamma_create_generation", {"input_text": "x", "format": "Presentation"}),
    ("num_cards 0", "gamma_create_generation", {"input_text": "x", "num_cards": 0}),
    ("num_cards 76", "gamma_create_generation", {"input_text": "x", "num_cards": 76}),
    ("num_cards -1", "gamma_create_generation", {"input_text": "x", "num_cards": -1}),
    ("num_cards 5.5", "gamma_create_generation", {"input_text": "x", "num_cards": 5.5}),
    ("num_cards text", "gamma_create_generation", {"input_text": "x", "num_cards": "many"}),
    ("num_cards list", "gamma_create_generation", {"input_text": "x", "num_cards": [3]}),
    ("input_text number", "gamma_create_generation", {"input_text": 12345}),
    ("input_text null", "gamma_create_generation", {"input_text": None}),
    ("text_mode unknown", "gamma_create_generation", {"input_text": "x", "text_mode": "summarize"}),
    ("export_as docx", "gamma_create_generation", {"input_text": "x", "export_as": "docx"}),
    ("dimensions vs format", "gamma_create_generation", {"input_text": "x", "card_options": {"dimensions": "9x16"}}),
    ("text_options unknown key", "gamma_create_generation", {"input_text": "x", "text_options": {"tone2": "x"}}),
    ("wait_seconds 51", "gamma_create_generation", {"input_text": "x", "wait_seconds": 51}),
    ("wait_seconds -1", "gamma_create_generation", {"input_text": "x", "wait_seconds": -1}),
    ("limit 0", "gamma_list_themes", {"limit": 0}),
    ("limit 51", "gamma_list_themes", {"limit": 51}),
    ("theme type", "gamma_list_themes", {"type": "premium"}),
    ("export_as pdf2", "gamma_export", {"export_as": "pdf2", "gamma_id": "abc"}),
    ("export neither id", "gamma_export", {"export_as": "pdf"}),
    ("export both ids", "gamma_export", {"export_as": "pdf", "gamma_id": "abc", "job_id": "gamma:abc"}),
    # lone surrogates
    ("input_text lone surrogate", "gamma_create_generation", {"input_text": "deck \ud800 here"}),
    ("query lone surrogate", "gamma_list_themes", {"query": "\udfff"}),
    # deep nesting
    ("text_options 200 deep", "gamma_create_generation", {"input_text": "x", "text_options": nested(200)}),
    ("folder_ids nested", "gamma_create_generation", {"input_text": "x", "folder_ids": [[["f"]]]}),
    # path-like and absolute names where an id is expected
    ("gamma_id traversal", "gamma_export", {"export_as": "pdf", "gamma_id": "../../etc/passwd"}),
    ("gamma_id absolute", "gamma_export", {"export_as": "pdf", "gamma_id": "/etc/passwd"}),
    ("gamma_id windows", "gamma_export", {"export_as": "pdf", "gamma_id": "C:\\Windows\\win.ini"}),
    ("gamma_id backslashes", "gamma_export", {"export_as": "pdf", "gamma_id": "..\\..\\x"}),
    ("gamma_id 129", "gamma_export", {"export_as": "pdf", "gamma_id": "g" * 129}),
    ("template traversal", "gamma_create_from_template", {"gamma_id": "../x", "prompt": "p"}),
    # URLs
    *[
        (f"header image {url[:12]}", "gamma_create_generation", {
            "input_text": "x",
            "card_options": {"header_footer": {"top_left": {"type": "image", "source": "custom", "src": url}}},
        })
        for url in ("http://example.com/logo.png", "javascript:alert(1)", "file:///etc/passwd", "data:image/png;base64,AA")
    ],
]  # fmt: skip

JOB_ID_CASES: list[str] = [
    "",
    "ab",
    "x" * 201,
    "gamma:../../etc/passwd",
    "gamma:/etc/passwd",
    "gamma:a b",
    "gamma:a\x00b",
    "gamma:%2e%2e%2f",
    "' OR 1=1 --",
    "gamma:abc'; DROP TABLE jobs; --",
    "GAMMA:abc",
    "openai:abc",
    "gamma:",
    "gamma:abc",  # well formed, never made here
    f"abyssale:{uuid.uuid4()}",
    "banatie:nope",  # Banatie is not configured on this server
]
LIFECYCLE_CASES: list[tuple[str, str, dict[str, Any]]] = [
    *[(f"get {job_id[:20]!r}", "get_generation", {"job_id": job_id}) for job_id in JOB_ID_CASES],
    *[(f"refresh {job_id[:20]!r}", "get_generation", {"job_id": job_id, "refresh": True}) for job_id in JOB_ID_CASES],
    *[(f"wait {job_id[:20]!r}", "wait_for_generation", {"job_id": job_id}) for job_id in JOB_ID_CASES[:8]],
    *[(f"regenerate {job_id[:20]!r}", "regenerate_generation", {"job_id": job_id}) for job_id in JOB_ID_CASES[:8]],
    *[(f"delete {job_id[:20]!r}", "delete_generation", {"job_id": job_id}) for job_id in JOB_ID_CASES[:8]],
    ("list cursor bogus", "list_generations", {"cursor": "bogus"}),
    ("list cursor negative", "list_generations", {"cursor": "o-1"}),
    ("list status", "list_generations", {"status": "done"}),
    ("list provider", "list_generations", {"provider": "openai"}),
    ("list limit", "list_generations", {"limit": 0}),
    ("list query 201", "list_generations", {"query": "q" * 201}),
]

ABYSSALE_CASES: list[tuple[str, str, dict[str, Any]]] = [
    ("design_id traversal", "abyssale_create_generation", {"design_id": "../../etc/passwd"}),
    ("design_id absolute", "abyssale_create_generation", {"design_id": "/etc/passwd"}),
    ("design_id not a uuid", "abyssale_create_generation", {"design_id": "summer-sale"}),
    ("design_id NUL", "abyssale_create_generation", {"design_id": UUID + "\x00"}),
    ("design_id lone surrogate", "abyssale_create_generation", {"design_id": "\ud800"}),
    ("201 layers", "abyssale_create_generation", {"design_id": UUID, "elements": {f"l{i}": {} for i in range(201)}}),
    ("layer name 201", "abyssale_create_generation", {"design_id": UUID, "elements": {"l" * 201: {}}}),
    ("layer not an object", "abyssale_create_generation", {"design_id": UUID, "elements": {"headline": "text"}}),
    ("101 formats", "abyssale_create_generation", {"design_id": UUID, "formats": [f"f{i}" for i in range(101)]}),
    ("empty format", "abyssale_create_generation", {"design_id": UUID, "formats": [""]}),
    ("file_type bmp", "abyssale_create_generation", {"design_id": UUID, "file_type": "bmp"}),
    ("compression 0", "abyssale_create_generation", {"design_id": UUID, "compression": 0}),
    ("compression 101", "abyssale_create_generation", {"design_id": UUID, "compression": 101}),
    ("gif fps 50", "abyssale_create_generation", {"design_id": UUID, "gif": {"max_fps": 50}}),
    ("page id traversal", "abyssale_create_generation", {"design_id": UUID, "pages": {"../page_1": {}}}),
    ("original_visual_id", "abyssale_create_generation", {"design_id": UUID, "original_visual_id": "../x"}),
    ("get design traversal", "abyssale_get_design", {"design_id": "../designs"}),
    ("list limit 0", "abyssale_list_designs", {"limit": 0}),
    ("list size", "abyssale_list_designs", {"size": ["big"]}),
    ("list type", "abyssale_list_designs", {"type": ["bogus"]}),
    ("list project", "abyssale_list_designs", {"project_id": "../x"}),
    ("list query 201", "abyssale_list_designs", {"query": "q" * 201}),
    ("list cursor 51", "abyssale_list_designs", {"cursor": "c" * 51}),
    ("list 21 formats", "abyssale_list_designs", {"format": ["f"] * 21}),
]


BANATIE_CASES: list[tuple[str, str, dict[str, Any]]] = [
    ("prompt 10,001", "banatie_create_generation", {"prompt": "p" * 10_001}),
    ("prompt 10 MB", "banatie_create_generation", {"prompt": TEN_MB}),
    ("prompt empty", "banatie_create_generation", {"prompt": ""}),
    ("prompt blank", "banatie_create_generation", {"prompt": "   "}),
    ("prompt lone surrogate", "banatie_create_generation", {"prompt": "fox \ud800"}),
    ("prompt number", "banatie_create_generation", {"prompt": 7}),
    ("aspect ratio 4:3", "banatie_create_generation", {"prompt": "fox", "aspect_ratio": "4:3"}),
    ("alias without @", "banatie_create_generation", {"prompt": "fox", "alias": "hero"}),
    ("alias with space", "banatie_create_generation", {"prompt": "fox", "alias": "@hero shot"}),
    ("flow alias without flow", "banatie_create_generation", {"prompt": "fox", "flow_alias": "@a"}),
    ("flow_id traversal", "banatie_create_generation", {"prompt": "fox", "flow_id": "../flows"}),
    ("4 references", "banatie_create_generation", {"prompt": "fox", "reference_images": ["@a", "@b", "@c", "@d"]}),
    ("reference 2049", "banatie_create_generation", {"prompt": "fox", "reference_images": ["r" * 2049]}),
    ("51 meta keys", "banatie_create_generation", {"prompt": "fox", "meta": {f"k{i}": i for i in range(51)}}),
    *[
        (f"reference {ref[:24]}", "banatie_create_generation", {"prompt": "fox", "reference_images": [ref]})
        for ref in (
            "http://127.0.0.1/ref.png",
            "https://127.0.0.1/ref.png",
            "https://localhost/ref.png",
            "https://[::1]/ref.png",
            "https://[::ffff:127.0.0.1]/ref.png",
            "https://169.254.169.254/latest/meta-data/",
            "https://10.0.0.1/ref.png",
            "https://0x7f000001/ref.png",
            "https://2130706433/ref.png",
            "file:///etc/passwd",
            "data:image/png;base64,AAAA",
            "../../etc/passwd",
            "/etc/passwd",
            "/dev/zero",
            "/",
            "C:\\Windows\\win.ini",
        )
    ],
    ("upload traversal", "banatie_upload_image", {"source": "../../../../etc/passwd"}),
    ("upload absolute", "banatie_upload_image", {"source": "/etc/shadow"}),
    ("upload private url", "banatie_upload_image", {"source": "https://127.0.0.1/x.png"}),
    ("upload non-https", "banatie_upload_image", {"source": "http://example.com/x.png"}),
    ("images limit", "banatie_list_images", {"limit": 0}),
    ("images source", "banatie_list_images", {"source": "stolen"}),
    ("set alias bad image", "banatie_set_alias", {"image": "x", "alias": "@ok"}),
    ("set alias bad alias", "banatie_set_alias", {"image": UUID, "alias": "@"}),
    ("update neither id", "banatie_update_generation", {"prompt": "fox"}),
]


async def test_gamma_tool_inputs(gamma_sim: Sim, tmp_path: Path) -> None:
    async with mcp_client(tmp_path, gamma_sim) as client:
        await _refuse_all(client, [gamma_sim], GAMMA_CASES)


async def test_job_ids_and_lifecycle_inputs(gamma_sim: Sim, abyssale_sim: Sim, tmp_path: Path) -> None:
    async with mcp_client(tmp_path, gamma_sim, abyssale_sim) as client:
        await _refuse_all(client, [gamma_sim, abyssale_sim], LIFECYCLE_CASES)


async def test_abyssale_tool_inputs(abyssale_sim: Sim, tmp_path: Path) -> None:
    async with mcp_client(tmp_path, abyssale_sim) as client:
        await _refuse_all(client, [abyssale_sim], ABYSSALE_CASES)


async def test_banatie_tool_inputs(banatie_sim: Sim, tmp_path: Path) -> None:
    async with mcp_client(tmp_path, banatie_sim) as client:
        await _refuse_all(client, [banatie_sim], BANATIE_CASES)


async def test_nul_bytes_in_text_are_refused_before_any_upstream_call(
    gamma_sim: Sim, abyssale_sim: Sim, banatie_sim: Sim, tmp_path: Path
) -> None:
    """A NUL byte is never meaningful text for these APIs: refuse it, like a lone surrogate, instead of
    sending (and billing) it. Collected over every tool so one run names every offender."""
    cases: list[tuple[str, str, dict[str, Any]]] = [
        ("gamma input_text", "gamma_create_generation", {"input_text": "Deck\x00", "wait_seconds": 0}),
        ("gamma instructions", "gamma_create_generation", {"input_text": "x", "additional_instructions": "a\x00", "wait_seconds": 0}),
        ("gamma themes query", "gamma_list_themes", {"query": "a\x00b"}),
        ("abyssale payload", "abyssale_create_generation", {
            "design_id": SOCIAL.id, "elements": {"headline": {"payload": "Sale\x00"}}, "wait_seconds": 0,
        }),
        ("abyssale list query", "abyssale_list_designs", {"query": "a\x00b"}),
        ("banatie prompt", "banatie_create_generation", {"prompt": "a fox\x00", "wait_seconds": 0}),
        ("banatie meta", "banatie_create_generation", {"prompt": "a fox", "meta": {"k": "\x00"}, "wait_seconds": 0}),
    ]  # fmt: skip
    async with mcp_client(tmp_path, gamma_sim, abyssale_sim, banatie_sim) as client:
        await _refuse_all(client, [gamma_sim, abyssale_sim, banatie_sim], cases)


FREE_FORM: dict[ProviderName, tuple[str, dict[str, Any], list[tuple[str, dict[str, Any]]]]] = {
    # Abyssale layer properties are `dict[str, Any]`; Banatie's `meta` is free-form too.
    "abyssale": (
        "abyssale_create_generation",
        {"design_id": SOCIAL.id, "wait_seconds": 0},
        [
            ("payload 5 MB", {"elements": {"headline": {"payload": "x" * 5_000_000}}}),
            ("payload object 200 deep", {"elements": {"headline": {"payload": nested(200)}}}),
            ("payload number list", {"elements": {"headline": {"payload": [1, 2, 3]}}}),
            ("unknown layer holding an object 200 deep", {"elements": nested(200)}),
        ],
    ),
    "banatie": (
        "banatie_create_generation",
        {"prompt": "a fox", "wait_seconds": 0},
        [
            ("meta value 5 MB", {"meta": {"note": "x" * 5_000_000}}),
            ("meta object 200 deep", {"meta": nested(200)}),
        ],
    ),
}


@pytest.mark.parametrize("provider", list(FREE_FORM))
async def test_free_form_values_are_bounded_before_a_credit_is_spent(
    request: pytest.FixtureRequest, tmp_path: Path, provider: ProviderName
) -> None:
    """Free-form argument values (a `dict[str, Any]`) still need bounds: a 5 MB string or a 200-deep
    object must be refused by the tool, not POSTed to a paid API."""
    sim = cast(Sim, request.getfixturevalue(f"{provider}_sim"))
    tool, base, cases = FREE_FORM[provider]
    wrong: list[str] = []
    async with mcp_client(tmp_path, sim) as client:
        for label, extra in cases:
            before = _creates(sim)
            result = await client.call_tool(tool, base | extra)
            if not result.is_error or _creates(sim) != before:
                wrong.append(f"{label}: is_error={result.is_error}, creates sent={_creates(sim) - before}")
        assert not (await client.call_tool("list_generations", {})).is_error
    assert wrong == [], "\n".join(wrong)


# -- raw bodies over HTTP ------------------------------------------------------------------------


@asynccontextmanager
async def http_app(tmp_path: Path, sim: Sim) -> AsyncGenerator[str]:
    port = free_port()
    settings = _settings(tmp_path, {sim.name: sim.base_url})
    runtime = Runtime(settings, poll_interval_scale=0.1)
    app = build_http_app(build_server(settings, runtime=runtime), runtime, host="127.0.0.1", port=port)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on"))
    async with anyio.create_task_group() as group:
        group.start_soon(server.serve)
        with anyio.fail_after(10):
            while not server.started:
                await anyio.sleep(0.02)
        yield f"http://127.0.0.1:{port}"
        server.should_exit = True


MCP_HEADERS = {"content-type": "application/json", "accept": "application/json, text/event-stream"}
DEEP = "[" * 1000 + "]" * 1000


@pytest.mark.parametrize(
    ("label", "body", "allowed"),
    [
        ("4 MiB + 1", b"x" * (4 * 1024 * 1024 + 1), {413}),
        ("nested 1000 deep", ('{"jsonrpc":"2.0","id":1,"method":"initialize","params":' + DEEP + "}").encode(), None),
        ("nested call", ('{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"x":' + DEEP + "}}").encode(), None),
        ("invalid UTF-8", b'{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"x":"\xff\xfe"}}', None),
        ("not JSON", b"{this is not json", None),
        ("empty", b"", None),
        ("JSON but not JSON-RPC", b"[1, 2, 3]", None),
    ],
    ids=lambda value: value if isinstance(value, str) else "",
)
async def test_raw_bodies_get_a_4xx_and_the_server_keeps_answering(
    gamma_sim: Sim, tmp_path: Path, label: str, body: bytes, allowed: set[int] | None
) -> None:
    async with http_app(tmp_path, gamma_sim) as base:
        async with httpx.AsyncClient(timeout=10) as http:
            answer = await http.post(f"{base}/mcp", content=body, headers=MCP_HEADERS)
            assert (await http.get(f"{base}/health")).status_code == 200
        async with Client(f"{base}/mcp") as client:
            assert not (await client.call_tool("list_generations", {})).is_error
    if allowed is not None:
        assert answer.status_code in allowed, (label, answer.status_code)
    else:
        # A 4xx, possibly carrying a JSON-RPC error; never a 5xx or a hang.
        assert 400 <= answer.status_code < 500, (label, answer.status_code, answer.text[:200])
        if answer.headers.get("content-type", "").startswith("application/json") and answer.content:
            assert "error" in answer.json()
    assert "Traceback" not in answer.text
    assert gamma_sim.total() == 0


# -- URLs and names that come back from a provider -------------------------------------------------

PUBLIC = {"cdn.example": ["93.184.216.34"], "internal.example": ["10.0.0.7"], "meta.example": ["169.254.169.254"]}


async def fake_resolver(host: str, port: int) -> list[str]:
    """DNS for the catalog without the network: named hosts from a table, IP literals as themselves."""
    if host in PUBLIC:
        return PUBLIC[host]
    return [host.strip("[]")]


BAD_DOWNLOAD_URLS = [
    "http://cdn.example/file.png",
    "ftp://cdn.example/file.png",
    "file:///etc/passwd",
    "https://127.0.0.1/file.png",
    "https://[::1]/file.png",
    "https://[::ffff:127.0.0.1]/file.png",
    "https://0.0.0.0/file.png",
    "https://169.254.169.254/latest/meta-data/",
    "https://100.64.0.1/file.png",
    "https://192.168.1.1/file.png",
    "https://192.0.0.8/file.png",
    "https://internal.example/file.png",
    "https:///file.png",
]


@pytest.mark.parametrize("url", BAD_DOWNLOAD_URLS)
async def test_result_downloads_refuse_non_https_and_private_addresses(tmp_path: Path, url: str) -> None:
    sent: list[httpx.Request] = []

    def serve(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return httpx.Response(200, content=b"secret")

    async with httpx.AsyncClient(transport=httpx.MockTransport(serve)) as client:
        downloader = Downloader(client, tmp_path / "out", resolver=fake_resolver)
        with pytest.raises(DownloadError) as caught:
            await downloader.fetch(url, tmp_path / "out" / "f.png")
    assert sent == [], "a refused URL was fetched"
    assert "Refused" in str(caught.value)
    assert not (tmp_path / "out" / "f.png").exists()


@pytest.mark.parametrize(
    "location",
    ["https://internal.example/secret", "http://cdn.example/plain", "https://127.0.0.1/x", "https://meta.example/"],
)
async def test_result_downloads_check_every_redirect_hop(tmp_path: Path, location: str) -> None:
    sent: list[str] = []

    def serve(request: httpx.Request) -> httpx.Response:
        sent.append(str(request.url))
        return httpx.Response(302, headers={"location": location})

    async with httpx.AsyncClient(transport=httpx.MockTransport(serve)) as client:
        downloader = Downloader(client, tmp_path / "out", resolver=fake_resolver)
        with pytest.raises(DownloadError):
            await downloader.fetch("https://cdn.example/file.png", tmp_path / "out" / "f.png")
    assert sent == ["https://cdn.example/file.png"], "the private hop was contacted"


BAD_REFERENCES = [
    "http://cdn.example/ref.png",
    "ftp://cdn.example/ref.png",
    "file:///etc/passwd",
    "data:image/png;base64,AAAA",
    "javascript:alert(1)",
    "https://127.0.0.1/ref.png",
    "https://[::ffff:127.0.0.1]/ref.png",
    "https://169.254.169.254/ref.png",
    "https://internal.example/ref.png",
    "https://user:pass@cdn.example/ref.png",
    "../../etc/passwd",
    "/etc/passwd",
    "/dev/zero",
    "C:\\Windows\\win.ini",
    "@bad alias!",
    "",
]


async def test_banatie_reference_urls_and_paths_are_refused_before_any_upstream_call(
    banatie_sim: Sim, tmp_path: Path, sleeps: Sleeps
) -> None:
    """Reference images are fetched by the server: every bad URL, private address (also behind a
    redirect) or non-image path is refused locally, and Banatie sees neither an upload nor a create."""
    served: list[str] = []

    def cdn(request: httpx.Request) -> httpx.Response:
        served.append(str(request.url))
        if request.url.path == "/hop":
            return httpx.Response(302, headers={"location": "https://internal.example/ref.png"})
        return httpx.Response(200, content=image_bytes(8, 8, "ref", "png"), headers={"content-type": "image/png"})

    from genmcp.providers.banatie import open_banatie

    spec = SPECS["banatie"]
    wrong: list[str] = []
    async with open_banatie(
        banatie_sim.base_url,
        spec.key,
        sleep=sleeps,
        resolver=fake_resolver,
        download_transport=httpx.MockTransport(cdn),
    ) as (_, adapter):
        for reference in [*BAD_REFERENCES, "https://cdn.example/hop"]:
            try:
                await adapter.submit("generation", {"prompt": "a fox", "referenceImages": [reference]})
            except ProviderValidationError as err:
                text = err.for_model()
                assert "\n" not in text and len(text) < 400 and NEXT_STEP.search(text), text
            else:
                wrong.append(reference)
    assert wrong == [], f"accepted: {wrong}"
    # Only the public first hop is contacted, pinned to the address that was checked.
    assert served == ["https://93.184.216.34/hop"], served
    assert banatie_sim.count("POST", "/api/v1/") == 0


async def test_hostile_names_from_a_provider_stay_inside_the_output_folder(
    abyssale_sim: Sim, tmp_path: Path, sleeps: Sleeps
) -> None:
    """File names are the server's: an upstream format name or file type that looks like a path
    (`../../etc/passwd`, `/abs`, `C:\\x`, newlines) is neutralised, and the file lands under the root."""
    spec = SPECS["abyssale"]
    out = tmp_path / "out"
    async with (
        open_provider(spec, abyssale_sim.base_url, sleeps) as opened,
        httpx.AsyncClient(timeout=5) as files,
    ):
        real = await opened.adapter.submit("render_sync", {"design_id": PRODUCT.id, "body": {}})
        assert real.state is not None
        url = real.state.outputs[0].url
        engine = JobEngine(
            JobStore(None), {"abyssale": opened.adapter}, Downloader(files, out, {abyssale_sim.base_url})
        )
        record = await engine.create("abyssale", "render_async", dict(spec.request), kind="design", title="names")
        assert record.upstream_id is not None
        hostile = ["../../../../etc/passwd", "/etc/cron.d/evil", "C:\\Windows\\evil", "CON", "a\nb", "." * 300]
        banners = [
            {"id": f"../../{i}", "file": {"type": "../../../sh", "url": url}, "format": {"id": name}}
            for i, name in enumerate(hostile)
        ]
        body = {"id": record.upstream_id, "is_finalized": True, "banners": banners}
        abyssale_sim.inject(spec.fault("poll", kind="unknown_status", status=200, body=body))
        done = await poll_job(engine, record)
    assert done.status == "completed", done.error
    paths = [Path(item.local_path) for item in done.files if item.local_path]
    assert len(paths) == len(hostile)
    root = out.resolve()
    for path in paths:
        assert path.resolve().is_relative_to(root), path
        assert path.is_file() and "\n" not in path.name and len(path.name) < 120
    assert len({p.resolve() for p in paths}) == len(paths), "two outputs were written to one name"
