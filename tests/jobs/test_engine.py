from pathlib import Path

import anyio
import httpx
import pytest

from genmcp.jobs.downloads import Downloader
from genmcp.jobs.engine import JobEngine, JobNotFoundError
from genmcp.jobs.scheduler import poll_job, run_scheduler
from genmcp.jobs.store import JobStore
from genmcp.providers.errors import ProviderUnavailableError, ProviderValidationError
from tests.jobs.fakes import FakeAdapter

PDF = b"%PDF-1.4 fake but complete"


def _engine(tmp_path: Path, adapter: FakeAdapter) -> JobEngine:
    def serve(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=PDF, headers={"content-type": "application/pdf"})

    client = httpx.AsyncClient(transport=httpx.MockTransport(serve))
    downloader = Downloader(client, tmp_path / "out", allowed_origins={"http://files.test"})
    return JobEngine(JobStore(tmp_path / "jobs.sqlite3"), {"gamma": adapter}, downloader)


async def test_create_records_upstream_id_and_a_self_describing_job_id(tmp_path: Path) -> None:
    adapter = FakeAdapter()
    engine = _engine(tmp_path, adapter)
    record = await engine.create("gamma", "generation", {"warn": True}, kind="presentation", title="Q3")
    assert record.job_id == "gamma:up1"
    assert record.status == "running"
    assert record.warnings == ["fake warning"]
    assert engine.store.get("gamma:up1") is not None


async def test_rejected_create_leaves_no_job(tmp_path: Path) -> None:
    adapter = FakeAdapter(submit_error=ProviderValidationError("gamma", "Gamma rejected the request"))
    engine = _engine(tmp_path, adapter)
    with pytest.raises(ProviderValidationError):
        await engine.create("gamma", "generation", {}, kind="presentation", title="Q3")
    assert engine.store.count() == 0


async def test_ambiguous_create_is_unknown_and_never_resent(tmp_path: Path) -> None:
    error = ProviderUnavailableError("gamma", "Gamma had a server error", status=502, outcome_unknown=True)
    adapter = FakeAdapter(submit_error=error)
    engine = _engine(tmp_path, adapter)
    record = await engine.create("gamma", "generation", {}, kind="presentation", title="Q3")
    assert record.status == "unknown"
    assert "Not sure whether Gamma received" in (record.error or "")
    adapter.submit_error = None
    # Refresh reconciles; Gamma cannot look creates up, so it says so and sends nothing.
    refreshed = await engine.refresh(record.job_id)
    assert refreshed.status == "unknown"
    assert "no way to look it up" in (refreshed.error or "")
    assert adapter.submits == []


async def test_completion_downloads_every_file_atomically(tmp_path: Path) -> None:
    adapter = FakeAdapter(polls_until_done=1, output_url="http://files.test/deck.pdf")
    engine = _engine(tmp_path, adapter)
    record = await engine.create("gamma", "generation", {}, kind="presentation", title="Q3")
    record = await poll_job(engine, record)
    assert record.status == "completed"
    [item] = record.files
    assert item.local_path is not None
    assert Path(item.local_path).read_bytes() == PDF
    assert item.resource_uri == "genmcp://jobs/gamma:up1/files/1"
    assert not list((tmp_path / "out").rglob(".*part*"))


async def test_download_refuses_urls_outside_the_allow_list(tmp_path: Path) -> None:
    adapter = FakeAdapter(polls_until_done=1, output_url="http://169.254.169.254/latest/meta-data")
    engine = _engine(tmp_path, adapter)
    record = await engine.create("gamma", "generation", {}, kind="presentation", title="Q3")
    record = await poll_job(engine, record)
    assert record.status == "completed"
    assert record.files[0].local_path is None
    assert "non-https" in (record.files[0].download_error or "")


async def test_scheduler_finishes_jobs_while_nobody_waits(tmp_path: Path) -> None:
    adapter = FakeAdapter(polls_until_done=3)
    engine = _engine(tmp_path, adapter)
    record = await engine.create("gamma", "generation", {}, kind="presentation", title="Q3")
    async with anyio.create_task_group() as group:
        group.start_soon(run_scheduler, engine)
        with anyio.fail_after(5):
            while (current := engine.store.get(record.job_id)) is None or current.status != "completed":
                await anyio.sleep(0.01)
        group.cancel_scope.cancel()
    assert adapter.polls["up1"] == 3


async def test_wait_reports_progress_and_returns_running_when_the_budget_ends(tmp_path: Path) -> None:
    adapter = FakeAdapter(polls_until_done=10_000)
    engine = _engine(tmp_path, adapter)
    record = await engine.create("gamma", "generation", {}, kind="presentation", title="Q3")
    seen: list[tuple[float, float, str]] = []

    async def progress(done: float, total: float, message: str) -> None:
        seen.append((done, total, message))

    result = record
    async with anyio.create_task_group() as group:
        group.start_soon(run_scheduler, engine)
        result = await engine.wait(record.job_id, 0.3, progress)
        group.cancel_scope.cancel()
    assert result.status == "running"
    assert seen, "progress notifications were sent"
    assert all(total == 0.3 for _, total, _ in seen)
    assert [d for d, _, _ in seen] == sorted(d for d, _, _ in seen)


async def test_poll_errors_back_off_and_keep_the_job_running(tmp_path: Path) -> None:
    adapter = FakeAdapter(fetch_errors=[ProviderUnavailableError("gamma", "down")])
    engine = _engine(tmp_path, adapter)
    record = await engine.create("gamma", "generation", {}, kind="presentation", title="Q3")
    before = engine.clock()
    record = await poll_job(engine, record)
    assert record.status == "running"
    assert record.poll_failures == 1
    assert (record.next_poll_at or 0) > before


async def test_regenerate_makes_a_linked_job_with_the_stored_request(tmp_path: Path) -> None:
    adapter = FakeAdapter()
    engine = _engine(tmp_path, adapter)
    first = await engine.create("gamma", "generation", {"inputText": "x"}, kind="presentation", title="Q3")
    second = await engine.regenerate(first.job_id)
    assert second.parent_job_id == first.job_id
    assert second.job_id != first.job_id
    assert adapter.submits == [{"inputText": "x"}, {"inputText": "x"}]


async def test_delete_removes_history_files_and_reports_upstream(tmp_path: Path) -> None:
    adapter = FakeAdapter(polls_until_done=1, output_url="http://files.test/deck.pdf")
    engine = _engine(tmp_path, adapter)
    record = await poll_job(engine, await engine.create("gamma", "generation", {}, kind="presentation", title="Q3"))
    path = Path(record.files[0].local_path or "")
    report = await engine.delete(record.job_id)
    assert report.upstream == "Deleted up1 upstream."
    assert report.local_files_removed == 1
    assert not path.exists()
    with pytest.raises(JobNotFoundError):
        engine.get(record.job_id)


@pytest.mark.parametrize(
    "job_id", ["nonsense", "gamma:", "other:abc", "gamma:../../etc", "gamma:missing", "abyssale:x' OR 1=1"]
)
async def test_unknown_or_malformed_ids_are_not_found_with_one_message(tmp_path: Path, job_id: str) -> None:
    engine = _engine(tmp_path, FakeAdapter())
    with pytest.raises(JobNotFoundError) as caught:
        engine.get(job_id)
    assert "list_generations" in str(caught.value)


async def test_restart_marks_interrupted_creates_unknown_and_resumes_running_jobs(tmp_path: Path) -> None:
    adapter = FakeAdapter(polls_until_done=1)
    engine = _engine(tmp_path, adapter)
    running = await engine.create("gamma", "generation", {}, kind="presentation", title="running")
    stranded = engine.store.insert_intent(
        provider="gamma", operation="generation", kind="presentation", title="x", request={}
    )
    engine.store.close()
    restarted = _engine(tmp_path, adapter)
    restarted.recover()
    assert restarted.get(stranded.job_id).status == "unknown"
    async with anyio.create_task_group() as group:
        group.start_soon(run_scheduler, restarted)
        with anyio.fail_after(5):
            while restarted.get(running.job_id).status != "completed":
                await anyio.sleep(0.01)
        group.cancel_scope.cancel()
