from pathlib import Path

from genmcp.jobs.store import JobStore
from genmcp.providers.base import RemoteState


def test_intent_row_survives_reopening_the_database(tmp_path: Path) -> None:
    store = JobStore(tmp_path / "jobs.sqlite3")
    record = store.insert_intent(
        provider="gamma", operation="generation", kind="presentation", title="Q3", request={"a": 1}
    )
    store.close()
    reopened = JobStore(tmp_path / "jobs.sqlite3")
    found = reopened.get(record.job_id)
    assert found is not None
    assert found.status == "submitting"
    assert found.request == {"a": 1}
    assert [r.job_id for r in reopened.stranded()] == [record.job_id]


def test_saved_state_and_new_job_id_round_trip(tmp_path: Path) -> None:
    store = JobStore(tmp_path / "jobs.sqlite3")
    record = store.insert_intent(provider="banatie", operation="generation", kind="image", title="cat", request={})
    old_id = record.job_id
    record.job_id = "banatie:abc"
    record.upstream_id = "abc"
    record.status = "running"
    record.state = RemoteState(status="running", progress_message="half way")
    store.save(record)
    assert store.get(old_id) is None
    found = store.get("banatie:abc")
    assert found is not None and found.state is not None
    assert found.state.progress_message == "half way"
    assert [r.job_id for r in store.active()] == ["banatie:abc"]


def test_list_filters_pages_and_escapes_wildcards(tmp_path: Path) -> None:
    store = JobStore(tmp_path / "jobs.sqlite3")
    for n in range(5):
        store.insert_intent(
            provider="gamma", operation="generation", kind="presentation", title=f"deck {n}", request={}, now=n
        )
    store.insert_intent(
        provider="abyssale", operation="render_async", kind="design", title="100% banner", request={}, now=10
    )
    page, more = store.list(providers=["gamma"], limit=2)
    assert [r.title for r in page] == ["deck 4", "deck 3"] and more
    page, more = store.list(providers=["gamma"], limit=2, offset=4)
    assert [r.title for r in page] == ["deck 0"] and not more
    assert [r.title for r in store.list(text="100%")[0]] == ["100% banner"]
    assert store.list(text="%")[0][0].title == "100% banner"
    assert store.list(text="_")[0] == []


def test_webhook_delivery_ids_are_applied_once(tmp_path: Path) -> None:
    store = JobStore(tmp_path / "jobs.sqlite3")
    assert store.record_delivery("d1", "abyssale:x") is True
    assert store.record_delivery("d1", "abyssale:x") is False
