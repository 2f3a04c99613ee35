"""Object versions from the S3 event to the manifest entry (issue 13, item 3): on the in-memory fakes and through
the handler against moto (the real DynamoDB adapter: the claim's own write returns the item's version, since the
pending index does not project it)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from pipeline.contracts.errors import InvalidEvent
from pipeline.contracts.manifest import Manifest
from pipeline.control_plane.bootstrap import handle_event
from pipeline.control_plane.domain.events import parse_sqs_body

from .conftest import LambdaContext, s3_record, sqs_event
from .test_service_with_fakes import DAY, World


def versioned(record: dict[str, Any], version_id: str | None) -> dict[str, Any]:
    if version_id is not None:
        record["s3"]["object"]["versionId"] = version_id
    return record


def body(key: str, etag: str, version_id: str | None) -> str:
    record = {
        "eventSource": "aws:s3",
        "eventName": "ObjectCreated:Put",
        "eventTime": f"{DAY}T04:00:00.000Z",
        "s3": {"bucket": {"name": "in"}, "object": {"key": f"{DAY}/{key}", "size": 10, "eTag": etag}},
    }
    return json.dumps({"Records": [versioned(record, version_id)]})


def test_the_event_version_is_parsed_and_absent_means_unversioned() -> None:
    [event] = parse_sqs_body(body("a.ndjson", "e1", "3sL4kqtJlcpXroDTDmJ+rmSpXd3dIbrHY")).records
    assert event.version_id == "3sL4kqtJlcpXroDTDmJ+rmSpXd3dIbrHY"
    assert parse_sqs_body(body("a.ndjson", "e1", None)).records[0].version_id is None
    assert parse_sqs_body(body("a.ndjson", "e1", "")).records[0].version_id is None
    bad = json.loads(body("a.ndjson", "e1", None))
    bad["Records"][0]["s3"]["object"]["versionId"] = 7
    with pytest.raises(InvalidEvent, match="versionId"):
        parse_sqs_body(json.dumps(bad))


def test_manifest_entries_carry_versions_and_round_trip() -> None:
    manifest = Manifest.build(
        "2026-11-22-050000-ab12cd34ef56",
        DAY,
        "2026-11-22T05:00:00Z",
        [
            ("b", "k.ndjson", 10, "v1"),
            ("b", "k.ndjson", 12, "v2"),
            ("b", "u.ndjson", 3),
            ("b", "u.ndjson", 4),
        ],
    )
    entries = json.loads(manifest.to_json())["entries"]
    assert entries == [
        {"url": "s3://b/k.ndjson", "mandatory": True, "meta": {"content_length": 10}, "version_id": "v1"},
        {"url": "s3://b/k.ndjson", "mandatory": True, "meta": {"content_length": 12}, "version_id": "v2"},
        # without versions a key is listed once, as before
        {"url": "s3://b/u.ndjson", "mandatory": True, "meta": {"content_length": 4}},
    ]
    assert Manifest.from_json(manifest.to_json()) == manifest
    broken = json.loads(manifest.to_json())
    broken["entries"][0]["version_id"] = ""
    with pytest.raises(InvalidEvent, match="version_id"):
        Manifest.from_json(json.dumps(broken))


def test_fakes_an_overwrite_after_the_claim_is_its_own_item_and_manifest() -> None:
    world = World(max_files=1)
    session = world.service.ingest_session()
    session.handle_message(body("a.ndjson", "e1", "v1"))
    [first] = session.close()
    session = world.service.ingest_session()
    session.handle_message(body("a.ndjson", "e2", "v2"))  # the producer overwrote the key after the claim
    [second] = session.close()
    manifests = {m.manifest_id: m for m in world.store.objects.values()}
    assert [(e.url, e.version_id) for e in manifests[first].entries] == [
        ("s3://in/2026-11-22/a.ndjson", "v1")
    ]
    assert [(e.url, e.version_id) for e in manifests[second].entries] == [
        ("s3://in/2026-11-22/a.ndjson", "v2")
    ]
    items = sorted((f["etag"], f["version_id"], f["manifest_id"]) for f in world.table.files.values())
    assert items == [("e1", "v1", first), ("e2", "v2", second)]


def test_moto_versions_reach_the_item_and_the_manifest(env) -> None:
    app = env.app(max_files_per_manifest=1)
    key = f"raw/{DAY}/a.ndjson"
    context = LambdaContext()
    handle_event(app, sqs_event(versioned(s3_record(key, etag="e1"), "v1")), context)
    handle_event(app, sqs_event(versioned(s3_record(key, etag="e2"), "v2")), context)
    handle_event(app, sqs_event(s3_record(f"raw/{DAY}/plain.ndjson", etag="e3")), context)
    files = sorted(env.files(DAY), key=lambda f: f["etag"])
    assert [(f["etag"], f.get("version_id"), f["status"]) for f in files] == [
        ("e1", "v1", "manifested"),
        ("e2", "v2", "manifested"),
        ("e3", None, "manifested"),
    ]
    by_manifest = {f["manifest_id"]: f for f in files}
    entries = {m["manifest_id"]: m["entries"] for m in env.manifest_objects()}
    assert len(entries) == 3
    for manifest_id, [entry] in entries.items():
        assert entry.get("version_id") == by_manifest[manifest_id].get("version_id")
