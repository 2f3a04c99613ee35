"""Pure modules: no AWS at all."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime

import pytest
from botocore.exceptions import ClientError

from pipeline.contracts.errors import InvalidConfiguration, InvalidEvent, InvalidTransition
from pipeline.contracts.manifest import EXECUTION_NAME, Manifest, is_manifest_id, new_manifest_id
from pipeline.contracts.suffixes import DEFAULT_SUFFIXES, has_accepted_suffix
from pipeline.control_plane.adapters.backoff import RetryPolicy
from pipeline.control_plane.config import ControlPlaneConfig
from pipeline.control_plane.domain.batching import BatchPolicy
from pipeline.control_plane.domain.events import parse_complete, parse_sqs_body
from pipeline.control_plane.domain.keys import (
    MAX_SORT_KEY_BYTES,
    decode_s3_key,
    extract_date_prefix,
    make_file_key,
    pending_shard,
)
from pipeline.control_plane.domain.states import (
    FileStatus,
    ManifestStatus,
    check_manifest_transition,
    effective_file_status,
    file_sources_for,
)

EVENT_TIME = datetime(2026, 11, 22, 23, 30, tzinfo=UTC)
ARN = "arn:aws:states:us-east-1:123456789012:stateMachine:ndjson-to-parquet"


# -- config ---------------------------------------------------------------------------------------------------
def test_config_defaults():
    config = ControlPlaneConfig.from_env(
        {"TRACKING_TABLE": "tracking", "MANIFEST_BUCKET": "manifests-1", "STATE_MACHINE_ARN": ARN}
    )
    assert config.manifest_prefix == "manifests/"
    assert config.ttl_days == 30
    assert config.log_level == "INFO"
    assert config.accepted_suffixes == DEFAULT_SUFFIXES
    assert (
        config.execution_arn("x-1") == "arn:aws:states:us-east-1:123456789012:execution:ndjson-to-parquet:x-1"
    )


def test_config_names_every_bad_value_at_once():
    with pytest.raises(InvalidConfiguration) as caught:
        ControlPlaneConfig.from_env(
            {
                "MANIFEST_BUCKET": "Bad_Bucket",
                "STATE_MACHINE_ARN": "arn:aws:lambda:us-east-1:1:function:x",
                "MAX_FILES_PER_MANIFEST": "0",
                "MAX_BYTES_PER_MANIFEST": "lots",
                "MAX_BATCH_WAIT_SECONDS": "-1",
                "TTL_DAYS": "0",
                "LOG_LEVEL": "chatty",
                "ACCEPTED_SUFFIXES": "ndjson",
                "PENDING_SHARDS": "65",
            }
        )
    message = str(caught.value)
    assert caught.value.error_name == "InvalidConfiguration"
    for name in (
        "TRACKING_TABLE is required",
        "MANIFEST_BUCKET='Bad_Bucket'",
        "STATE_MACHINE_ARN=",
        "MAX_FILES_PER_MANIFEST='0'",
        "MAX_BYTES_PER_MANIFEST='lots'",
        "MAX_BATCH_WAIT_SECONDS='-1'",
        "TTL_DAYS='0'",
        "LOG_LEVEL='chatty'",
        "ACCEPTED_SUFFIXES='ndjson'",
        "PENDING_SHARDS='65'",
    ):
        assert name in message


def test_config_normalises_prefix_and_suffixes():
    config = ControlPlaneConfig.from_env(
        {
            "TRACKING_TABLE": "t-1",
            "MANIFEST_BUCKET": "b-1",
            "STATE_MACHINE_ARN": ARN,
            "MANIFEST_PREFIX": "/batches",
            "ACCEPTED_SUFFIXES": ".NDJSON, .ndjson.gz,.ndjson",
            "LOG_LEVEL": "debug",
        }
    )
    assert config.manifest_prefix == "batches/"
    assert config.accepted_suffixes == (".ndjson", ".ndjson.gz")
    assert config.log_level == "DEBUG"


# -- keys -----------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("raw", "decoded"),
    [
        ("raw/my+file+name.ndjson", "raw/my file name.ndjson"),
        ("raw/a%2Bb.ndjson", "raw/a+b.ndjson"),
        ("raw%2F2026-11-22%2Fx.json", "raw/2026-11-22/x.json"),
        ("raw/caf%C3%A9+%E2%9C%93.jsonl", "raw/café ✓.jsonl"),
        ("raw/100%25.json", "raw/100%.json"),
    ],
)
def test_decode_s3_key(raw, decoded):
    assert decode_s3_key(raw) == decoded


@pytest.mark.parametrize(
    ("key", "expected"),
    [
        ("events/2026-11-20/a.ndjson", "2026-11-20"),
        ("events/dt=2026-11-19/a.ndjson", "2026-11-19"),
        ("events/date=2026-11-18/a.ndjson", "2026-11-18"),
        ("events/year=2026/month=11/day=17/a.ndjson", "2026-11-17"),
        ("events/year=2026/month=1/day=7/a.ndjson", "2026-01-07"),
        ("a/2026-11-16/b/2026-11-15/c.ndjson", "2026-11-16"),  # the first date segment wins
        ("events/2026-02-30/a.ndjson", "2026-11-22"),  # impossible date -> event date
        ("events/2026-11-20.ndjson", "2026-11-22"),  # a file name is not a folder
        ("no-date-here/a.ndjson", "2026-11-22"),
        ("events/year=2026/month=11/a.ndjson", "2026-11-22"),  # incomplete hive path
        ("2026-11-14/a.ndjson", "2026-11-14"),
    ],
)
def test_extract_date_prefix(key, expected):
    assert extract_date_prefix(key, EVENT_TIME) == expected


def test_fallback_date_is_utc():
    from datetime import timedelta, timezone

    late_evening_in_new_york = datetime(2026, 11, 22, 20, 0, tzinfo=timezone(timedelta(hours=-5)))
    assert extract_date_prefix("x/a.ndjson", late_evening_in_new_york) == "2026-11-23"


def test_file_keys_never_collide():
    a = make_file_key("bucket", "a/x.ndjson", "e1")
    b = make_file_key("bucket", "b/x.ndjson", "e1")
    c = make_file_key("bucket", "a/x.ndjson", "e2")
    d = make_file_key("other", "a/x.ndjson", "e1")
    assert len({a, b, c, d}) == 4
    assert a == "F#bucket/a/x.ndjson#e1"


def test_long_keys_are_cut_with_a_hash_and_stay_distinct():
    long_a = "d/" + "é" * 600 + "a.ndjson"
    long_b = "d/" + "é" * 600 + "b.ndjson"
    ka, kb = make_file_key("bucket", long_a, "etag"), make_file_key("bucket", long_b, "etag")
    assert ka != kb
    assert len(ka.encode()) <= MAX_SORT_KEY_BYTES
    assert ka.endswith("#etag")


def test_suffixes_and_shards():
    assert has_accepted_suffix("a/B.NDJSON.GZ", DEFAULT_SUFFIXES)
    assert not has_accepted_suffix("a/b.csv", DEFAULT_SUFFIXES)
    assert not has_accepted_suffix("a/b.ndjson.zip", DEFAULT_SUFFIXES)
    shards = {pending_shard(f"F#b/{i}#e", 4) for i in range(200)}
    assert shards == {"P0", "P1", "P2", "P3"}


# -- batching -------------------------------------------------------------------------------------------------
@dataclass
class F:
    size: int


def test_batch_closes_by_count():
    policy = BatchPolicy(max_files=3, max_bytes=1000, max_wait_seconds=60)
    selection = policy.select([F(1)] * 5)
    assert selection.file_count == 3 and selection.closed
    assert policy.is_full(3, 0) and not policy.is_full(2, 999)


def test_batch_closes_by_bytes_without_exceeding_them():
    policy = BatchPolicy(max_files=100, max_bytes=1000, max_wait_seconds=60)
    selection = policy.select([F(400), F(400), F(400)])
    assert selection.file_count == 2 and selection.total_bytes == 800 and selection.closed
    assert policy.is_full(1, 1000)


def test_oversized_file_makes_a_batch_of_one():
    policy = BatchPolicy(max_files=100, max_bytes=1000, max_wait_seconds=60)
    selection = policy.select([F(5000), F(1)])
    assert selection.file_count == 1 and selection.closed


def test_partial_batch_is_not_closed_and_age_decides():
    policy = BatchPolicy(max_files=10, max_bytes=1000, max_wait_seconds=60)
    selection = policy.select([F(1), F(1)])
    assert not selection.closed
    created = datetime(2026, 11, 22, 5, 0, tzinfo=UTC)
    assert not policy.is_due(created, datetime(2026, 11, 22, 5, 0, 59, tzinfo=UTC))
    assert policy.is_due(created, datetime(2026, 11, 22, 5, 1, 0, tzinfo=UTC))


# -- manifest -------------------------------------------------------------------------------------------------
def test_manifest_json_matches_the_glue_contract():
    manifest_id = new_manifest_id("2026-11-22", datetime(2026, 11, 22, 5, 15, 30, tzinfo=UTC), "ab12cd34ef56")
    assert manifest_id == "2026-11-22-051530-ab12cd34ef56"
    assert EXECUTION_NAME.fullmatch(manifest_id) and is_manifest_id(manifest_id)
    manifest = Manifest.build(
        manifest_id,
        "2026-11-22",
        "2026-11-22T05:15:30.000000Z",
        [("b", "x/a b.ndjson", 10), ("b", "x/c.ndjson", 5), ("b", "x/a b.ndjson", 12)],
    )
    data = json.loads(manifest.to_json())
    assert data == {
        "manifest_id": manifest_id,
        "date_prefix": "2026-11-22",
        "created_at": "2026-11-22T05:15:30.000000Z",
        "entries": [
            {"url": "s3://b/x/a b.ndjson", "mandatory": True, "meta": {"content_length": 12}},
            {"url": "s3://b/x/c.ndjson", "mandatory": True, "meta": {"content_length": 5}},
        ],
    }
    assert Manifest.from_json(manifest.to_json()) == manifest


def test_manifest_status_transitions():
    assert check_manifest_transition(ManifestStatus.PENDING, ManifestStatus.PROCESSING)
    assert not check_manifest_transition(ManifestStatus.COMPLETED, ManifestStatus.COMPLETED)
    with pytest.raises(InvalidTransition):
        check_manifest_transition(ManifestStatus.COMPLETED, ManifestStatus.FAILED)


# -- event parsing --------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ("not json {", "not JSON"),
        ("[1, 2]", "not a JSON object"),
        ('{"hello": "world"}', "no Records"),
        ('{"Records": [{"eventSource": "aws:sns"}]}', "not an S3 event record"),
        ('{"Records": [{"eventSource": "aws:s3", "eventName": "ObjectCreated:Put", "s3": {}}]}', "lacks"),
        ("", "empty"),
    ],
)
def test_poison_bodies_are_named(body, reason):
    with pytest.raises(InvalidEvent) as caught:
        parse_sqs_body(body)
    assert reason in caught.value.message
    assert body[:20] not in caught.value.message or not body


def test_test_event_and_sns_envelope():
    assert parse_sqs_body('{"Service":"Amazon S3","Event":"s3:TestEvent","Bucket":"b"}').test_event
    inner = {
        "Records": [
            {
                "eventSource": "aws:s3",
                "eventName": "ObjectCreated:Put",
                "eventTime": "2026-11-22T01:02:03.000Z",
                "s3": {"bucket": {"name": "b"}, "object": {"key": "a+b.ndjson", "size": 3, "eTag": "e"}},
            }
        ]
    }
    parsed = parse_sqs_body(json.dumps({"Type": "Notification", "Message": json.dumps(inner)}))
    assert parsed.records[0].key == "a b.ndjson"
    assert parsed.records[0].event_time == datetime(2026, 11, 22, 1, 2, 3, tzinfo=UTC)


def test_parse_complete_validates():
    ok = parse_complete(
        {
            "manifest_id": "2026-11-22-051530-ab12cd34ef56",
            "date_prefix": "2026-11-22",
            "status": "failed",
            "error": "States.TaskFailed",
            "cause": {"ErrorMessage": "boom"},
        }
    )
    assert ok.status == "failed" and "boom" in (ok.cause or "")
    for bad in (
        {"manifest_id": "x", "date_prefix": "2026-11-22", "status": "completed"},
        {"manifest_id": "2026-11-22-051530-ab12cd34ef56", "date_prefix": "2026-11-21", "status": "completed"},
        {"manifest_id": "2026-11-22-051530-ab12cd34ef56", "date_prefix": "2026-11-22", "status": "done"},
    ):
        with pytest.raises(InvalidEvent):
            parse_complete(bad)


# -- retry ----------------------------------------------------------------------------------------------------
def _throttle() -> ClientError:
    return ClientError({"Error": {"Code": "ThrottlingException", "Message": "slow down"}}, "Op")


def test_retry_backs_off_then_succeeds():
    sleeps: list[float] = []
    calls = iter([_throttle(), _throttle(), "ok"])

    def op():
        value = next(calls)
        if isinstance(value, Exception):
            raise value
        return value

    assert RetryPolicy(sleep=sleeps.append).call(op) == "ok"
    assert len(sleeps) == 2 and all(0 <= s <= 2.0 for s in sleeps)


def test_retry_never_retries_permanent_errors_nor_past_the_deadline():
    attempts = []

    def denied():
        attempts.append(1)
        raise ClientError({"Error": {"Code": "AccessDeniedException", "Message": "no"}}, "Op")

    with pytest.raises(ClientError):
        RetryPolicy(sleep=lambda s: None).call(denied)
    assert len(attempts) == 1

    throttled = []

    def slow():
        throttled.append(1)
        raise _throttle()

    with pytest.raises(ClientError):
        RetryPolicy(sleep=lambda s: None, remaining=lambda: 2.0).call(slow)
    assert len(throttled) == 1  # 2 s left < 3 s reserve: no retry


@pytest.mark.parametrize(
    ("stored", "manifest", "expected"),
    [
        # completion by reference: a manifested file is its manifest's once that is final
        ("manifested", "completed", "completed"),
        ("manifested", "failed", "failed"),
        ("manifested", "pending", "manifested"),
        ("manifested", "processing", "manifested"),  # a retry put the manifest back: running again
        ("manifested", None, "manifested"),  # no MANIFEST item yet (claim in progress, or crash repair's)
        ("pending", None, "pending"),
        ("pending", "completed", "pending"),  # released or replayed: no longer its manifest's
        # items written before the rule (the old per-file completion write) read as they are
        ("completed", "completed", "completed"),
        ("failed", "failed", "failed"),
        ("completed", None, "completed"),
        ("failed", "pending", "failed"),
        (None, None, None),
    ],
)
def test_a_files_status_is_derived_from_its_manifest_and_old_items_read_as_stored(stored, manifest, expected):
    assert effective_file_status(stored, manifest) == expected


def test_the_control_plane_never_writes_a_final_status_on_a_file():
    """The status update writes only the MANIFEST item: no control-plane write moves a file to completed/failed,
    a claim takes only a pending file, a release only a manifested one."""
    assert file_sources_for(FileStatus.COMPLETED) == frozenset()
    assert file_sources_for(FileStatus.FAILED) == frozenset()
    assert file_sources_for(FileStatus.MANIFESTED) == {FileStatus.PENDING}
    assert file_sources_for(FileStatus.PENDING) == {FileStatus.MANIFESTED}
