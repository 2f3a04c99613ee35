"""The service's main paths on the in-memory fakes at its ports (tests/control_plane/fakes.py): fast, no AWS.
The moto-backed tests next to this one prove the same paths against the real adapters."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from botocore.exceptions import ClientError

from pipeline.control_plane.adapters.pending_reader import pending_freshness
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


@dataclass
class World:
    """The service and the fakes it runs on."""

    max_files: int = 3
    table: FakeTrackingStore = field(default_factory=lambda: FakeTrackingStore(pending_shards=2))
    store: FakeManifestStore = field(default_factory=FakeManifestStore)
    executions: FakeExecutions = field(default_factory=FakeExecutions)
    catalog: FakeCatalog = field(default_factory=FakeCatalog)
    clock: Clock = field(default_factory=Clock)

    def __post_init__(self) -> None:
        config = ControlPlaneConfig(
            "t",
            "manifests",
            "arn:aws:states:us-east-1:123456789012:stateMachine:m",
            max_files_per_manifest=self.max_files,
            pending_shards=2,
        )
        self.service = ControlPlane(
            config,
            self.table,
            self.store,
            self.executions,
            logging.getLogger("fakes"),
            clock=self.clock,
            catalog=self.catalog,
        )

    def ingest(self, *keys: str) -> list[str]:
        """One SQS batch, one S3 notification a message; the manifests it started."""
        session = self.service.ingest_session()
        for key in keys:
            session.handle_message(notification(key))
        return session.close()

    def statuses(self) -> list[str]:
        """The files' statuses as read (derived through the one owner: completion by reference)."""
        return sorted(str(self.table.status_of(*key)) for key in self.table.files)


def notification(key: str, etag: str = "e1") -> str:
    record = {
        "eventSource": "aws:s3",
        "eventName": "ObjectCreated:Put",
        "eventTime": f"{DAY}T04:00:00.000Z",
        "s3": {"bucket": {"name": "in"}, "object": {"key": f"{DAY}/{key}", "size": 10, "eTag": etag}},
    }
    return json.dumps({"Records": [record]})


def event(key: str, etag: str = "e1") -> S3ObjectEvent:
    return S3ObjectEvent(
        "ObjectCreated:Put", "in", f"{DAY}/{key}", 10, etag, datetime(2026, 11, 22, tzinfo=UTC)
    )


def test_track_and_duplicate_event_is_a_no_op() -> None:
    world = World()
    assert world.service.track(event("a.ndjson")) is True
    assert world.service.track(event("a.ndjson")) is False
    assert world.service.track(event("a.csv")) is None
    assert world.statuses() == ["pending"]


def test_duplicate_notification_in_a_batch_counts_once() -> None:
    world = World()
    session = world.service.ingest_session()
    first = session.handle_message(notification("a.ndjson"))
    again = session.handle_message(notification("a.ndjson"))
    assert (first.tracked, again.tracked, again.duplicates) == (1, 0, 1)
    assert session.close() == []
    assert world.table.get_counter(DAY).pending_count == 1


def test_batch_by_count_starts_then_records() -> None:
    world = World(max_files=3)
    started = world.ingest("a.ndjson", "b.ndjson", "c.ndjson", "d.ndjson")
    assert len(started) == 1 and list(world.executions.started) == started
    assert world.statuses() == ["manifested", "manifested", "manifested", "pending"]
    record = world.table.get_manifest(DAY, started[0])
    assert record is not None and record.file_count == 3 and record.execution_arn
    assert not world.table.claims and len(world.store.objects) == 1
    assert world.table.get_counter(DAY).pending_count == 1


def test_start_failure_rolls_back_to_pending() -> None:
    world = World(max_files=2)
    world.executions.fail_next = ClientError(
        {"Error": {"Code": "AccessDeniedException", "Message": "no"}}, "StartExecution"
    )
    assert world.ingest("a.ndjson", "b.ndjson") == []
    assert world.statuses() == ["pending", "pending"]
    assert not world.table.manifests and not world.table.claims and not world.store.objects


def test_complete_marks_files_and_manifest() -> None:
    world = World(max_files=2)
    [manifest_id] = world.ingest("a.ndjson", "b.ndjson")
    request = CompleteRequest(manifest_id, DAY, "completed", None, None, {"records_in": 5})
    result = world.service.complete(request)
    assert result == {"manifest_id": manifest_id, "status": "completed", "files": 2}
    assert world.statuses() == ["completed", "completed"]
    assert {f["status"] for f in world.table.files.values()} == {
        "manifested"
    }  # only the MANIFEST item written
    assert world.table.manifests[(DAY, manifest_id)]["records_in"] == 5
    assert world.catalog.registered == [(DAY, {"records_in": 5})]
    again = world.service.complete(CompleteRequest(manifest_id, DAY, "completed", None, None, {}))
    assert again["repeat"] is True


def test_flush_repairs_a_claim_left_by_a_dead_invocation() -> None:
    world = World(max_files=5)
    world.ingest("a.ndjson", "b.ndjson")
    # A dead invocation: intent record and one claimed file, no execution, no MANIFEST item.
    now = "2026-11-22T05:00:00.000000Z"
    world.table.put_claim(DAY, "dead-manifest", now, 0)
    file_key = next(k for (_, k) in world.table.files)
    assert world.table.claim_file(DAY, file_key, "dead-manifest", now, 0)
    world.clock.now += timedelta(seconds=world.service.config.repair_grace_seconds + 1)
    outcome = world.service.flush()
    assert outcome.repaired_rolled_back == ["dead-manifest"]
    assert not world.table.claims
    # then the flush batched both files (the oldest is due) under a new manifest
    assert len(outcome.started) == 1 and world.statuses() == [FileStatus.MANIFESTED] * 2


def test_flush_repairs_a_started_claim_whose_manifest_answers_403() -> None:
    """S3 answers 403 for a missing manifest when the role lacks s3:ListBucket: the repair records the manifest
    from its claimed files instead of failing every flush on that claim."""
    world = World(max_files=5)
    world.ingest("a.ndjson", "b.ndjson")
    now = "2026-11-22T05:00:00.000000Z"
    world.table.put_claim(DAY, "started-manifest", now, 0)
    for file_key in [k for (_, k) in world.table.files]:
        assert world.table.claim_file(DAY, file_key, "started-manifest", now, 0)
    world.executions.start("started-manifest", {})
    world.store.forbidden.add(world.store.path_for(DAY, "started-manifest"))
    world.clock.now += timedelta(seconds=world.service.config.repair_grace_seconds + 1)
    outcome = world.service.flush()
    assert outcome.repaired_recorded == ["started-manifest"]
    assert not world.table.claims
    record = world.table.get_manifest(DAY, "started-manifest")
    assert record is not None and record.file_count == 2
    # the repaired item is in open-manifests-index under its files' oldest created_at (they were tracked at 05:00)
    assert world.table.oldest_open_manifest() == "2026-11-22T05:00:00.000000Z"


def test_freshness_holds_a_started_batch_until_it_completes_and_a_failed_one_stays() -> None:
    world = World(max_files=2)
    [first] = world.ingest("a.ndjson", "b.ndjson")  # tracked at 05:00, batched at once: nothing pending
    world.clock.now += timedelta(seconds=100)
    assert not any(f["status"] == FileStatus.PENDING for f in world.table.files.values())
    assert pending_freshness(world.table, world.clock())[1] == 100  # the open manifest's oldest file
    world.service.complete(CompleteRequest(first, DAY, "completed", None, None, {}))
    assert pending_freshness(world.table, world.clock())[1] == 0  # completion took it out
    [second] = world.ingest("c.ndjson", "d.ndjson")
    world.clock.now += timedelta(seconds=50)
    world.service.complete(CompleteRequest(second, DAY, "failed", "GlueFailed", "boom", {}))
    world.clock.now += timedelta(seconds=10)
    assert pending_freshness(world.table, world.clock())[1] == 60  # failed: not queryable, still counted
