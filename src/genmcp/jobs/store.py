"""The durable job store: embedded SQLite in WAL mode.

Every job the server creates is written here *before* its upstream POST (status `submitting`),
so a crash between the POST and the answer leaves a visible row that restart turns into
`unknown` instead of losing it. `synchronous=NORMAL` in WAL mode survives a killed process
(SIGKILL), which is the failure we design for; only an OS crash could roll back the newest commits.
"""

from __future__ import annotations

import json
import secrets
import sqlite3
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from genmcp.jobs.models import ACTIVE_STATUSES, JobFile, JobKind, JobRecord, JobStatus, make_job_id
from genmcp.providers.base import ProviderName, RemoteState

_SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    local_id TEXT PRIMARY KEY,
    job_id TEXT NOT NULL UNIQUE,
    provider TEXT NOT NULL,
    operation TEXT NOT NULL,
    kind TEXT NOT NULL,
    title TEXT NOT NULL,
    status TEXT NOT NULL,
    request TEXT NOT NULL,
    upstream_id TEXT,
    parent_job_id TEXT,
    state TEXT,
    files TEXT NOT NULL DEFAULT '[]',
    warnings TEXT NOT NULL DEFAULT '[]',
    error TEXT,
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL,
    completed_at REAL,
    next_poll_at REAL,
    deadline_at REAL,
    poll_count INTEGER NOT NULL DEFAULT 0,
    poll_failures INTEGER NOT NULL DEFAULT 0,
    webhook_token TEXT
);
CREATE INDEX IF NOT EXISTS jobs_by_status ON jobs(status, next_poll_at);
CREATE INDEX IF NOT EXISTS jobs_by_created ON jobs(created_at DESC, local_id);
CREATE TABLE IF NOT EXISTS webhook_deliveries (
    delivery_id TEXT PRIMARY KEY,
    job_id TEXT,
    received_at REAL NOT NULL
);
"""

AUTO_CHECKPOINT_PAGES = 4000

_COLUMNS = (
    "local_id, job_id, provider, operation, kind, title, status, request, upstream_id, parent_job_id, state, "
    "files, warnings, error, created_at, updated_at, completed_at, next_poll_at, deadline_at, poll_count, "
    "poll_failures, webhook_token"
)


class JobStore:
    """Synchronous on purpose: each statement takes well under a millisecond in WAL mode, so running
    it on the event loop is cheaper than a thread hop. Persistence can be turned off (`path=None`,
    an in-memory database) for the P8 benchmark's reference."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(str(path) if path else ":memory:", isolation_level=None, check_same_thread=False)
        self._db.row_factory = sqlite3.Row
        if path is not None:
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            # Checkpoints are run by the scheduler when idle (`checkpoint`), so a create does not pay
            # for one; the automatic one stays as a safety net at a larger size.
            self._db.execute(f"PRAGMA wal_autocheckpoint={AUTO_CHECKPOINT_PAGES}")
        self._db.execute("PRAGMA busy_timeout=5000")
        self._db.executescript(_SCHEMA)

    def close(self) -> None:
        self._db.close()

    def checkpoint(self) -> None:
        """Fold the write-ahead log into the database without blocking writers (PASSIVE)."""
        if self.path is not None:
            self._db.execute("PRAGMA wal_checkpoint(PASSIVE)")

    # -- writes ---------------------------------------------------------------------------------

    def insert_intent(
        self,
        *,
        provider: ProviderName,
        operation: str,
        kind: JobKind,
        title: str,
        request: dict[str, Any],
        parent_job_id: str | None = None,
        now: float | None = None,
    ) -> JobRecord:
        """Record a create before it is sent. Its temporary id is replaced once the upstream id is known."""
        now = time.time() if now is None else now
        local_id = secrets.token_hex(12)
        record = JobRecord(
            local_id=local_id,
            job_id=make_job_id(provider, f"pending-{local_id}"),
            provider=provider,
            operation=operation,
            kind=kind,
            title=title,
            status="submitting",
            request=request,
            parent_job_id=parent_job_id,
            created_at=now,
            updated_at=now,
            webhook_token=secrets.token_urlsafe(24),
        )
        self._write(record, insert=True)
        return record

    def save(self, record: JobRecord) -> JobRecord:
        record.updated_at = time.time()
        self._write(record, insert=False)
        return record

    def delete(self, job_id: str) -> bool:
        cursor = self._db.execute("DELETE FROM jobs WHERE job_id = ?", (job_id,))
        return cursor.rowcount > 0

    def record_delivery(self, delivery_id: str, job_id: str | None) -> bool:
        """Remember a webhook delivery id; False when it was seen before (a retry to ignore)."""
        try:
            self._db.execute(
                "INSERT INTO webhook_deliveries (delivery_id, job_id, received_at) VALUES (?, ?, ?)",
                (delivery_id, job_id, time.time()),
            )
        except sqlite3.IntegrityError:
            return False
        return True

    # -- reads ----------------------------------------------------------------------------------

    def get(self, job_id: str) -> JobRecord | None:
        row = self._db.execute(f"SELECT {_COLUMNS} FROM jobs WHERE job_id = ?", (job_id,)).fetchone()
        return _from_row(row) if row else None

    def get_by_local_id(self, local_id: str) -> JobRecord | None:
        row = self._db.execute(f"SELECT {_COLUMNS} FROM jobs WHERE local_id = ?", (local_id,)).fetchone()
        return _from_row(row) if row else None

    def find_by_upstream(self, provider: ProviderName, upstream_id: str) -> JobRecord | None:
        row = self._db.execute(
            f"SELECT {_COLUMNS} FROM jobs WHERE provider = ? AND upstream_id = ? ORDER BY created_at DESC LIMIT 1",
            (provider, upstream_id),
        ).fetchone()
        return _from_row(row) if row else None

    def find_by_webhook_token(self, token: str) -> JobRecord | None:
        row = self._db.execute(f"SELECT {_COLUMNS} FROM jobs WHERE webhook_token = ?", (token,)).fetchone()
        return _from_row(row) if row else None

    def list(
        self,
        *,
        providers: Sequence[str] | None = None,
        statuses: Sequence[str] | None = None,
        kinds: Sequence[str] | None = None,
        text: str | None = None,
        limit: int = 20,
        offset: int = 0,
    ) -> tuple[list[JobRecord], bool]:
        """Newest first; returns (page, has_more)."""
        clauses: list[str] = []
        params: list[Any] = []
        for column, values in (("provider", providers), ("status", statuses), ("kind", kinds)):
            if values:
                clauses.append(f"{column} IN ({', '.join('?' for _ in values)})")
                params.extend(values)
        if text:
            clauses.append("(title LIKE ? ESCAPE '\\' OR job_id LIKE ? ESCAPE '\\')")
            pattern = "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
            params.extend([pattern, pattern])
        where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
        rows = self._db.execute(
            f"SELECT {_COLUMNS} FROM jobs {where} ORDER BY created_at DESC, local_id LIMIT ? OFFSET ?",
            (*params, limit + 1, offset),
        ).fetchall()
        records = [_from_row(r) for r in rows]
        return records[:limit], len(records) > limit

    def active(self) -> list[JobRecord]:
        """Every job the scheduler must keep moving."""
        marks = ", ".join("?" for _ in ACTIVE_STATUSES)
        rows = self._db.execute(
            f"SELECT {_COLUMNS} FROM jobs WHERE status IN ({marks}) ORDER BY next_poll_at", tuple(ACTIVE_STATUSES)
        ).fetchall()
        return [_from_row(r) for r in rows]

    def due(self, now: float, *, limit: int = 200) -> list[JobRecord]:
        """Running jobs whose next poll is due, soonest first; the scheduler never loads the rest."""
        rows = self._db.execute(
            f"SELECT {_COLUMNS} FROM jobs WHERE status = 'running' AND upstream_id IS NOT NULL "
            "AND COALESCE(next_poll_at, 0) <= ? ORDER BY next_poll_at LIMIT ?",
            (now, limit),
        ).fetchall()
        return [_from_row(r) for r in rows]

    def next_poll_time(self) -> float | None:
        """When the earliest running job is due, without loading any job."""
        row = self._db.execute(
            "SELECT MIN(COALESCE(next_poll_at, 0)) FROM jobs WHERE status = 'running' AND upstream_id IS NOT NULL"
        ).fetchone()
        return float(row[0]) if row and row[0] is not None else None

    def stranded(self) -> list[JobRecord]:
        """Creates interrupted before their upstream answer was recorded (the process died mid-POST)."""
        rows = self._db.execute(f"SELECT {_COLUMNS} FROM jobs WHERE status = 'submitting'").fetchall()
        return [_from_row(r) for r in rows]

    def count(self, statuses: Iterable[JobStatus] | None = None) -> int:
        if statuses:
            values = list(statuses)
            sql = f"SELECT COUNT(*) FROM jobs WHERE status IN ({', '.join('?' for _ in values)})"
            return int(self._db.execute(sql, values).fetchone()[0])
        return int(self._db.execute("SELECT COUNT(*) FROM jobs").fetchone()[0])

    # -- internals ------------------------------------------------------------------------------

    def _write(self, record: JobRecord, *, insert: bool) -> None:
        values = (
            record.local_id,
            record.job_id,
            record.provider,
            record.operation,
            record.kind,
            record.title,
            record.status,
            json.dumps(record.request),
            record.upstream_id,
            record.parent_job_id,
            record.state.model_dump_json() if record.state else None,
            json.dumps([f.model_dump() for f in record.files]),
            json.dumps(record.warnings),
            record.error,
            record.created_at,
            record.updated_at,
            record.completed_at,
            record.next_poll_at,
            record.deadline_at,
            record.poll_count,
            record.poll_failures,
            record.webhook_token,
        )
        marks = ", ".join("?" for _ in values)
        verb = "INSERT" if insert else "REPLACE"
        self._db.execute(f"{verb} INTO jobs ({_COLUMNS}) VALUES ({marks})", values)


def _from_row(row: sqlite3.Row) -> JobRecord:
    state = row["state"]
    return JobRecord(
        local_id=row["local_id"],
        job_id=row["job_id"],
        provider=row["provider"],
        operation=row["operation"],
        kind=row["kind"],
        title=row["title"],
        status=row["status"],
        request=json.loads(row["request"]),
        upstream_id=row["upstream_id"],
        parent_job_id=row["parent_job_id"],
        state=RemoteState.model_validate_json(state) if state else None,
        files=[JobFile.model_validate(f) for f in json.loads(row["files"])],
        warnings=json.loads(row["warnings"]),
        error=row["error"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        completed_at=row["completed_at"],
        next_poll_at=row["next_poll_at"],
        deadline_at=row["deadline_at"],
        poll_count=row["poll_count"],
        poll_failures=row["poll_failures"],
        webhook_token=row["webhook_token"],
    )
