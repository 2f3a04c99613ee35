"""The service's main paths on the in-memory fakes at its ports (tests/control_plane/fakes.py): fast, no AWS.
The moto-backed tests next to this one prove the same paths against the real adapters."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

from botocore.exceptions import ClientError

from pipeline.control_plane.config import ControlPlaneConfig
from pipeline.control_plane.domain.events import CompleteRequest, S3ObjectEvent
from pipeline.control_plane.domain.states import FileStatus
from pipeline.control_plane.service import ControlPlane
from tests.control_plane.fakes import FakeCatalog, FakeExecutions, FakeManifestStore, FakeTrackingStore

DAY = "2026-11-22"


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 11, 22, 5, 0, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


def make(
    max_files: int = 3,
) -> tuple[ControlPlane, FakeTrackingStore, FakeExecutions, FakeManifestStore, Clock]:
    config = ControlPlaneConfig(
        "t",
        "manifests",
        "arn:aws:states:us-east-1:123456789012:stateMachine:m",
        max_files_per_manifest=max_files,
        pending_shards=2,
    )
    table, executions, store, clock = (
        FakeTrackingStore(pending_shards=2),
        FakeExecutions(),
        FakeManifestStore(),
        Clock(),
    )
    service = ControlPlane(
        config, table, store, executions, logging.getLogger("fakes"), clock=clock, catalog=FakeCatalog()
    )
    return service, table, executions, store, clock


def event(key: str, etag: str = "e1") -> S3ObjectEvent:
    return S3ObjectEvent(
        "ObjectCreated:Put", "in", f"{DAY}/{key}", 10, etag, datetime(2026, 11, 22, tzinfo=UTC)
    )


def ingest(service: ControlPlane, *keys: str) -> list[str]:
    session = service.ingest_session()
    for key in keys:
        if service.track(event(key)):
            session.new_by_date.setdefault(DAY, [0, 0])
            session.new_by_date[DAY][0] += 1
            session.new_by_date[DAY][1] += 10
    return session.close()


def statuses(table: FakeTrackingStore) -> list[str]:
    return sorted(str(f["status"]) for f in table.files.values())


def test_track_and_duplicate_event_is_a_no_op() -> None:
    service, table, *_ = make()
    assert service.track(event("a.ndjson")) is True
    assert service.track(event("a.ndjson")) is False
    assert service.track(event("a.csv")) is None
    assert statuses(table) == ["pending"]


def test_batch_by_count_starts_then_records() -> None:
    service, table, executions, store, _ = make(max_files=3)
    started = ingest(service, "a.ndjson", "b.ndjson", "c.ndjson", "d.ndjson")
    assert len(started) == 1 and list(executions.started) == started
    assert statuses(table) == ["manifested", "manifested", "manifested", "pending"]
    record = table.get_manifest(DAY, started[0])
    assert record is not None and record.file_count == 3 and record.execution_arn
    assert not table.claims and len(store.objects) == 1
    assert table.get_counter(DAY).pending_count == 1


def test_start_failure_rolls_back_to_pending() -> None:
    service, table, executions, store, _ = make(max_files=2)
    executions.fail_next = ClientError(
        {"Error": {"Code": "AccessDeniedException", "Message": "no"}}, "StartExecution"
    )
    assert ingest(service, "a.ndjson", "b.ndjson") == []
    assert statuses(table) == ["pending", "pending"]
    assert not table.manifests and not table.claims and not store.objects


def test_complete_marks_files_and_manifest() -> None:
    service, table, *_ = make(max_files=2)
    [manifest_id] = ingest(service, "a.ndjson", "b.ndjson")
    result = service.complete(CompleteRequest(manifest_id, DAY, "completed", None, None, {"records_in": 5}))
    assert result == {"manifest_id": manifest_id, "status": "completed", "files_updated": 2}
    assert statuses(table) == ["completed", "completed"]
    assert table.manifests[(DAY, manifest_id)]["records_in"] == 5
    assert service.catalog is not None and service.catalog.registered == [(DAY, {"records_in": 5})]  # type: ignore[attr-defined]
    again = service.complete(CompleteRequest(manifest_id, DAY, "completed", None, None, {}))
    assert again["repeat"] is True


def test_flush_repairs_a_claim_left_by_a_dead_invocation() -> None:
    service, table, _, _, clock = make(max_files=5)
    ingest(service, "a.ndjson", "b.ndjson")
    # A dead invocation: intent record and one claimed file, no execution, no MANIFEST item.
    now = "2026-11-22T05:00:00.000000Z"
    table.put_claim(DAY, "dead-manifest", now, 0)
    file_key = next(k for (_, k) in table.files)
    assert table.claim_file(DAY, file_key, "dead-manifest", now, 0)
    clock.now += timedelta(seconds=service.config.repair_grace_seconds + 1)
    outcome = service.flush()
    assert outcome.repaired_rolled_back == ["dead-manifest"]
    assert not table.claims
    # then the flush batched both files (the oldest is due) under a new manifest
    assert len(outcome.started) == 1 and statuses(table) == [FileStatus.MANIFESTED] * 2
