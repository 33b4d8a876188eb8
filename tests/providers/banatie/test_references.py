"""Reference images: local checks, SSRF fences on URLs, and upload replacement."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import httpx
import pytest

from genmcp.providers.banatie import BanatieAdapter, BanatieClient
from genmcp.providers.banatie.references import (
    MAX_REFERENCE_BYTES,
    classify_reference,
    download_image,
    is_public_address,
    prepare_references,
    read_local_image,
    resolve_references,
    sniff_image,
)
from genmcp.providers.errors import ProviderValidationError
from genmcp.simulators.files import image_bytes
from tests.providers.banatie.conftest import FakeApi, ok, png

Pair = tuple[BanatieClient, BanatieAdapter]
UUID = "0b6f3c52-8a1e-4c57-9a47-2f3c1d2e4b5a"
HOSTS = {
    "cdn.example": ["93.184.216.34"],
    "internal.example": ["192.168.1.10"],
    "mixed.example": ["93.184.216.34", "10.0.0.1"],
}


async def resolver(host: str, port: int) -> Sequence[str]:
    return HOSTS.get(host, [])


def image_server(routes: dict[str, httpx.Response], seen: list[httpx.Request]) -> httpx.MockTransport:
    """Serves by (Host header, path), as the downloader pins connections to the checked address."""

    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return routes.get(f"{request.headers['host']}{request.url.path}", httpx.Response(404))

    return httpx.MockTransport(handle)


@pytest.fixture
def good_png(tmp_path: Path) -> Path:
    path = tmp_path / "good.png"
    path.write_bytes(png())
    return path


def test_sniff() -> None:
    assert sniff_image(png()) == ("png", "image/png")
    assert sniff_image(image_bytes(32, 32, "x", "jpeg")) == ("jpg", "image/jpeg")
    assert sniff_image(image_bytes(32, 32, "x", "webp")) == ("webp", "image/webp")
    assert sniff_image(b"GIF89a....") is None


@pytest.mark.parametrize(
    ("raw", "kind"),
    [
        (UUID, "id"),
        ("@hero_1-b", "alias"),
        ("https://cdn.example/a.png", "url"),
        ("/tmp/a.png", "file"),
        ("a.png", "file"),
    ],
)
def test_classify(raw: str, kind: str) -> None:
    assert classify_reference(raw).kind == kind


@pytest.mark.parametrize(
    ("raw", "words"),
    [
        ("@bad alias", "not a valid alias"),
        ("@", "not a valid alias"),
        ("@" + "x" * 65, "not a valid alias"),
        ("http://cdn.example/a.png", "plain http"),
        ("ftp://cdn.example/a.png", "unsupported scheme"),
        ("file:///etc/passwd", "unsupported scheme"),
        ("data:image/png;base64,AAAA", "unsupported scheme"),
        ("   ", "empty"),
    ],
)
def test_classify_refuses(raw: str, words: str) -> None:
    with pytest.raises(ProviderValidationError, match=words) as info:
        classify_reference(raw)
    assert info.value.hint  # always says what to change


def test_local_file_ok_and_symlink_resolved(good_png: Path, tmp_path: Path) -> None:
    link = tmp_path / "link.jpg"
    link.symlink_to(good_png)
    loaded = read_local_image(str(link))
    assert loaded.mime_type == "image/png" and loaded.filename == "good.png"  # by content, not by name
    assert loaded.origin == str(good_png)


def test_local_file_problems(tmp_path: Path) -> None:
    with pytest.raises(ProviderValidationError, match="existing file"):
        read_local_image(str(tmp_path / "missing.png"))
    with pytest.raises(ProviderValidationError, match="directory"):
        read_local_image(str(tmp_path))
    fake = tmp_path / "fake.png"
    fake.write_text("<html>not an image</html>")
    with pytest.raises(ProviderValidationError, match="not a PNG, JPEG or WebP"):
        read_local_image(str(fake))
    big = tmp_path / "big.png"
    with big.open("wb") as handle:
        handle.write(png())
        handle.truncate(MAX_REFERENCE_BYTES + 1)
    with pytest.raises(ProviderValidationError, match="larger than 5 MB"):
        read_local_image(str(big))
    dangling = tmp_path / "dangling.png"
    dangling.symlink_to(tmp_path / "nowhere.png")
    with pytest.raises(ProviderValidationError, match="existing file"):
        read_local_image(str(dangling))


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads any file")
def test_unreadable_file(good_png: Path) -> None:
    good_png.chmod(0)
    with pytest.raises(ProviderValidationError, match="cannot be read"):
        read_local_image(str(good_png))


@pytest.mark.parametrize(
    ("address", "public"),
    [
        ("93.184.216.34", True),
        ("2606:4700:4700::1111", True),
        ("10.1.2.3", False),
        ("127.0.0.1", False),
        ("169.254.169.254", False),
        ("100.64.0.1", False),
        ("0.0.0.0", False),
        ("224.0.0.1", False),
        ("240.0.0.1", False),
        ("::1", False),
        ("fe80::1%eth0", False),
        ("fd00::1", False),
        ("::ffff:127.0.0.1", False),
        ("::ffff:93.184.216.34", True),
        ("2002:7f00:1::", False),
        ("64:ff9b::a9fe:a9fe", False),
        ("not-an-ip", False),
    ],
)
def test_is_public_address(address: str, public: bool) -> None:
    assert is_public_address(address) is public


async def test_more_than_three_refused() -> None:
    with pytest.raises(ProviderValidationError, match="at most 3"):
        await prepare_references([UUID, "@a", "@b", "@c"])


async def test_download_good_url_is_pinned_to_the_checked_address() -> None:
    seen: list[httpx.Request] = []
    body = png()
    routes = {"cdn.example/cats/tabby.png": httpx.Response(200, content=body, headers={"content-type": "image/png"})}
    got = await download_image(
        "https://cdn.example/cats/tabby.png", resolver=resolver, transport=image_server(routes, seen)
    )
    assert got.content == body and got.filename == "tabby.png" and got.mime_type == "image/png"
    assert seen[0].url.host == "93.184.216.34" and seen[0].headers["host"] == "cdn.example"
    assert seen[0].extensions["sni_hostname"] == "cdn.example"


async def test_octet_stream_with_image_magic_is_accepted() -> None:
    seen: list[httpx.Request] = []
    routes = {"cdn.example/x": httpx.Response(200, content=png(), headers={"content-type": "application/octet-stream"})}
    got = await download_image("https://cdn.example/x", resolver=resolver, transport=image_server(routes, seen))
    assert got.filename == "x.png"


@pytest.mark.parametrize(
    ("url", "response", "words"),
    [
        (
            "https://cdn.example/page",
            httpx.Response(200, text="<html/>", headers={"content-type": "text/html"}),
            "not an image",
        ),
        (
            "https://cdn.example/liar.png",
            httpx.Response(200, text="<html/>", headers={"content-type": "image/png"}),
            "not a PNG",
        ),
        ("https://cdn.example/gone.png", httpx.Response(404), "HTTP 404"),
        (
            "https://cdn.example/huge.png",
            httpx.Response(200, content=png(), headers={"content-type": "image/png", "content-length": str(6 * 2**20)}),
            "larger than 5 MB",
        ),
        (
            "https://cdn.example/stream.png",
            httpx.Response(
                200,
                content=b"\x89PNG\r\n\x1a\n" + b"0" * (MAX_REFERENCE_BYTES + 10),
                headers={"content-type": "image/png"},
            ),
            "larger than 5 MB",
        ),
    ],
)
async def test_download_refusals(url: str, response: httpx.Response, words: str) -> None:
    seen: list[httpx.Request] = []
    key = url.removeprefix("https://")
    if "stream" in key:
        response.headers.pop("content-length", None)
    with pytest.raises(ProviderValidationError, match=words):
        await download_image(url, resolver=resolver, transport=image_server({key: response}, seen))


@pytest.mark.parametrize(
    "url",
    [
        "https://internal.example/a.png",
        "https://mixed.example/a.png",
        "https://127.0.0.1/a.png",
        "https://[::ffff:10.0.0.1]/a.png",
    ],
)
async def test_private_hosts_refused_without_any_request(url: str) -> None:
    seen: list[httpx.Request] = []
    with pytest.raises(ProviderValidationError, match="private, local or reserved"):
        await download_image(url, resolver=resolver, transport=image_server({}, seen))
    assert seen == []


async def test_unknown_host() -> None:
    with pytest.raises(ProviderValidationError, match="could not be found"):
        await download_image("https://nowhere.example/a.png", resolver=resolver, transport=image_server({}, []))


async def test_redirect_to_private_address_is_refused() -> None:
    seen: list[httpx.Request] = []
    routes = {"cdn.example/a.png": httpx.Response(302, headers={"location": "https://internal.example/secret.png"})}
    with pytest.raises(ProviderValidationError, match="private"):
        await download_image("https://cdn.example/a.png", resolver=resolver, transport=image_server(routes, seen))
    assert [r.headers["host"] for r in seen] == ["cdn.example"]


async def test_redirect_to_http_and_redirect_loops_are_refused() -> None:
    routes = {
        "cdn.example/down.png": httpx.Response(301, headers={"location": "http://cdn.example/a.png"}),
        "cdn.example/loop.png": httpx.Response(302, headers={"location": "/loop.png"}),
    }
    with pytest.raises(ProviderValidationError, match="non-https"):
        await download_image("https://cdn.example/down.png", resolver=resolver, transport=image_server(routes, []))
    with pytest.raises(ProviderValidationError, match="too many times"):
        await download_image("https://cdn.example/loop.png", resolver=resolver, transport=image_server(routes, []))


async def test_relative_redirect_is_followed() -> None:
    seen: list[httpx.Request] = []
    routes = {
        "cdn.example/old.png": httpx.Response(307, headers={"location": "/new.png"}),
        "cdn.example/new.png": httpx.Response(200, content=png(), headers={"content-type": "image/png"}),
    }
    got = await download_image("https://cdn.example/old.png", resolver=resolver, transport=image_server(routes, seen))
    assert got.filename == "new.png" and len(seen) == 2


@pytest.mark.parametrize(("url", "words"), [("https://[::1/a.png", "not a valid URL"), ("https:///a.png", "no host")])
async def test_malformed_urls(url: str, words: str) -> None:
    with pytest.raises(ProviderValidationError, match=words):
        await download_image(url, resolver=resolver, transport=image_server({}, []))


async def test_credentials_in_url_refused() -> None:
    with pytest.raises(ProviderValidationError, match="user name or password"):
        await download_image("https://u:p@cdn.example/a.png", resolver=resolver, transport=image_server({}, []))


async def test_allow_private_hosts_permits_loopback() -> None:
    routes = {"127.0.0.1/a.png": httpx.Response(200, content=png(), headers={"content-type": "image/png"})}
    got = await download_image("https://127.0.0.1/a.png", transport=image_server(routes, []), allow_private_hosts=True)
    assert got.mime_type == "image/png"


async def test_resolve_uploads_files_and_urls_and_keeps_ids(api: FakeApi, banatie: Pair, good_png: Path) -> None:
    client, _ = banatie
    api.on("POST", "/api/v1/images/upload", ok({"id": "up-file"}, 201), ok({"id": "up-url"}, 201))
    routes = {
        "cdn.example/b.webp": httpx.Response(
            200, content=image_bytes(32, 32, "w", "webp"), headers={"content-type": "image/webp"}
        )
    }
    ids = await resolve_references(
        [str(good_png), "@hero", "https://cdn.example/b.webp"],
        client,
        flow_id="flow-9",
        resolver=resolver,
        transport=image_server(routes, []),
    )
    assert ids == ["up-file", "@hero", "up-url"]
    uploads = api.sent("POST")
    assert b'name="flowId"\r\n\r\nflow-9' in uploads[0].content
    assert b'filename="b.webp"' in uploads[1].content and b"image/webp" in uploads[1].content
    assert str(good_png.parent).encode() not in uploads[0].content  # the local path stays local


async def test_validation_happens_before_any_upload(api: FakeApi, banatie: Pair, good_png: Path) -> None:
    client, _ = banatie
    with pytest.raises(ProviderValidationError):
        await resolve_references([str(good_png), "http://cdn.example/a.png"], client)
    assert api.requests == []
