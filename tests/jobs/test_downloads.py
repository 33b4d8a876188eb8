from pathlib import Path

import httpx
import pytest

from genmcp.jobs.downloads import Downloader, DownloadError, is_public_address, safe_stem, sweep_partial_files


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "10.0.0.1",
        "192.168.1.1",
        "169.254.169.254",
        "100.64.0.1",
        "0.0.0.0",
        "::1",
        "::ffff:127.0.0.1",
        "fe80::1",
        "192.0.0.8",
    ],
)
def test_private_and_special_addresses_are_not_public(address: str) -> None:
    assert not is_public_address(address)


def test_public_addresses_are_public() -> None:
    assert is_public_address("93.184.216.34")
    assert is_public_address("2606:4700::1111")


@pytest.mark.parametrize(
    "text", ["../../etc/passwd", "..\\..\\x", "/abs/path", "C:\\x", "a/b", "name\nwith newline", "x" * 300]
)
def test_file_name_stems_cannot_escape_or_grow(text: str) -> None:
    stem = safe_stem(text)
    assert "/" not in stem and "\\" not in stem and "\n" not in stem
    assert not stem.startswith(".")
    assert len(stem) <= 60


async def _resolver_to(address: str):
    async def resolve(host: str, port: int) -> list[str]:
        return [address]

    return resolve


async def test_non_https_and_private_hosts_are_refused_before_connecting(tmp_path: Path) -> None:
    calls: list[str] = []

    def serve(request: httpx.Request) -> httpx.Response:
        calls.append(str(request.url))
        return httpx.Response(200, content=b"x")

    async with httpx.AsyncClient(transport=httpx.MockTransport(serve)) as client:
        downloader = Downloader(client, tmp_path, resolver=await _resolver_to("10.1.2.3"))
        for url in ["http://cdn.example/x.png", "file:///etc/passwd", "ftp://x/y", "https://cdn.example/x.png"]:
            with pytest.raises(DownloadError):
                await downloader.fetch(url, tmp_path / "x.png")
    assert calls == []


async def test_redirect_to_a_private_address_is_refused(tmp_path: Path) -> None:
    def serve(request: httpx.Request) -> httpx.Response:
        if request.url.host == "cdn.example":
            return httpx.Response(302, headers={"location": "https://internal.example/secret"})
        return httpx.Response(200, content=b"secret")

    async def resolve(host: str, port: int) -> list[str]:
        return ["93.184.216.34"] if host == "cdn.example" else ["10.0.0.5"]

    async with httpx.AsyncClient(transport=httpx.MockTransport(serve)) as client:
        downloader = Downloader(client, tmp_path, resolver=resolve)
        with pytest.raises(DownloadError, match="private"):
            await downloader.fetch("https://cdn.example/file.png", tmp_path / "f.png")
    assert not (tmp_path / "f.png").exists()


async def test_oversized_download_leaves_no_file(tmp_path: Path) -> None:
    def serve(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=b"x" * 5000)

    async with httpx.AsyncClient(transport=httpx.MockTransport(serve)) as client:
        downloader = Downloader(client, tmp_path, allowed_origins={"http://sim.test"}, max_bytes=1000)
        with pytest.raises(DownloadError, match="larger"):
            await downloader.fetch("http://sim.test/big.bin", tmp_path / "big.bin")
    assert list(tmp_path.iterdir()) == []


def test_target_paths_stay_under_the_output_root(tmp_path: Path) -> None:
    downloader = Downloader(httpx.AsyncClient(), tmp_path)
    path = downloader.target_for("gamma", "../../../etc", "../../passwd", 1, "pdf")
    assert path.is_relative_to(tmp_path.resolve())


def test_partial_files_from_a_killed_run_are_swept(tmp_path: Path) -> None:
    (tmp_path / "gamma" / "job").mkdir(parents=True)
    (tmp_path / "gamma" / "job" / ".01-x.pdf.part-123").write_bytes(b"half")
    (tmp_path / "gamma" / "job" / "01-x.pdf").write_bytes(b"whole")
    assert sweep_partial_files(tmp_path) == 1
    assert [p.name for p in (tmp_path / "gamma" / "job").iterdir()] == ["01-x.pdf"]
