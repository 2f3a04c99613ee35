"""Conditional-check races under DynamoDB throttling: concurrent manifest-builder invocations (8 threads) over every
S3 event delivered twice, and scheduled flushes among them, race for the same files and the same per-date items
(tracking and claims are conditional writes, batching of a date is serialised by a conditional lease, the MANIFEST
item is written both by the builder and by the state machine's first state), while the claim and record paths are
throttled at random (seeded; `faults.ThrottleStorm`) and a few chosen calls fail for good after the builder's
retries. The promise: no file in two manifests, none lost, no execution for a claim that was rolled back, one
execution per manifest, and what the storm left half-done (claims left open, files claimed by a manifest that never
started, a started execution never recorded) is repaired by the documented recovery: the scheduled flush after
REPAIR_GRACE_SECONDS."""

from __future__ import annotations

import json
import random
import re
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest
from ops.harness import FUNCTION, MANIFESTS, REGION, MiniStack, ndjson

from pipeline.embedded.bridges import LambdaFunctionError
from pipeline.embedded.poller import build_sqs_event
from pipeline.ops.retry import retry_manifest

from .checks import assert_holds, check, flush_later, later_app, take_all_messages
from .faults import FAULTS, ThrottleStorm

DAY = "2026-07-02"
FILES, ROWS, BATCH = 40, 3, 8
SPREAD = 4.0  # seconds over which the invocations arrive
# Random throttles are absorbed by the builder's retries; the n-th logical call of these steps fails for good
# (every attempt throttled): a claim broken off mid-way whose rollback breaks off too (files stranded under an open
# claim), a started execution left unrecorded, a recorded manifest whose claim is never closed, a claim never
# written, a flush that cannot read the pending index.
EXHAUST = {
    "claim_file": (3,),
    "release_file": (1,),
    "record_manifest": (1,),
    "delete_claim": (2,),
    "put_claim": (4,),
    "query_pending": (30,),
}
RETRY_NAME = re.compile(r"(?P<id>.+)-r\d+")  # `pipeline retry` attempts
MUST_FAIL = {"claim_file", "release_file", "record_manifest", "delete_claim"}


@pytest.fixture(scope="module")
def stack(aws, spark, tmp_path_factory):
    mini = MiniStack(aws, tmp_path_factory.mktemp("reliability-throttled-races"))
    # Flushes in real time start full batches only; the flush after REPAIR_GRACE_SECONDS finds the rest due.
    mini.start(spark, {"MAX_FILES_PER_MANIFEST": str(BATCH), "MAX_BATCH_WAIT_SECONDS": "600"})
    yield mini
    mini.stop()


def _payloads(stack: MiniStack, messages: list[dict], rng: random.Random) -> list[tuple[float, bytes]]:
    """Every event twice, in differently shuffled SQS batches of 10, and sixteen flushes, each invocation at a
    seeded moment of the next SPREAD seconds (so that batching happens again and again under the storm)."""
    queue_arn = stack.queue_arn(stack.queue_url)
    payloads: list[bytes] = []
    for _ in range(2):
        shuffled = messages[:]
        rng.shuffle(shuffled)
        for start in range(0, len(shuffled), 10):
            event = build_sqs_event(shuffled[start : start + 10], queue_arn, REGION)
            payloads.append(json.dumps(event).encode())
    payloads += [json.dumps({"action": "flush"}).encode()] * 16
    rng.shuffle(payloads)
    return sorted(((rng.uniform(0, SPREAD), p) for p in payloads), key=lambda item: item[0])


def _invoke(stack: MiniStack, started: float, at: float, payload: bytes) -> dict:
    assert stack.runner is not None
    time.sleep(max(0.0, started + at - time.monotonic()))
    try:
        return json.loads(stack.runner.invoke(FUNCTION, payload))
    except LambdaFunctionError as exc:  # a flush whose DynamoDB calls failed for good: the next schedule runs
        return {"function_error": str(exc)}


def _open_claims(stack: MiniStack) -> list[str]:
    return [i["manifest_id"] for i in stack.items(DAY) if i["file_key"].startswith("CLAIM#")]


def _manifest_objects(stack: MiniStack) -> list[str]:
    listed = stack.aws.client("s3").list_objects_v2(Bucket=MANIFESTS, Prefix=f"manifests/{DAY}/")
    return [o["Key"] for o in listed.get("Contents", [])]


def _executions(stack: MiniStack) -> list[str]:
    sfn = stack.aws.client("stepfunctions")
    pages = sfn.get_paginator("list_executions").paginate(stateMachineArn=stack.machine_arn)
    return [e["name"] for page in pages for e in page["executions"]]


def _settle(stack: MiniStack, timeout: float = 150) -> list[dict]:
    """Until every file and manifest is final: the scheduled flush meanwhile, `pipeline retry` for the batches the
    Glue job's MaxConcurrentRuns refused (as in test_concurrency.py)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        files, manifests = stack.files(DAY), stack.manifests(DAY)
        if {f["status"] for f in files} == {"completed"} and {m["status"] for m in manifests} == {
            "completed"
        }:
            return manifests
        for manifest in manifests:
            if manifest["status"] == "failed":
                assert manifest.get("error") == "Glue.ConcurrentRunsExceededException", manifest
                stack.wait_executions_done()
                retry_manifest(stack.ctx(), manifest["manifest_id"])
        if any(f["status"] == "pending" for f in files):
            flush_later(stack)  # the partial batch is due by then
        time.sleep(1)
    raise AssertionError(
        f"not final in time: files {Counter(f['status'] for f in stack.files(DAY))}, manifests "
        f"{[(m['manifest_id'], m['status'], m.get('file_count')) for m in stack.manifests(DAY)]}"
    )


def test_claim_races_under_throttling_lose_nothing_and_the_flush_repairs_the_rest(stack):
    for index in range(FILES):
        stack.drop(f"raw/{DAY}/f{index:03d}.ndjson", ndjson(DAY, f"f{index}", ROWS))
    messages = take_all_messages(stack, FILES)
    rng = random.Random(20261122)
    payloads = _payloads(stack, messages, rng)

    storm = ThrottleStorm(rate=0.3, seed=7, exhaust=EXHAUST)
    begin = time.monotonic()
    with FAULTS.active(*storm.rules()):
        with ThreadPoolExecutor(max_workers=8) as pool:
            responses = list(pool.map(lambda item: _invoke(stack, begin, *item), payloads))
        # The schedule keeps flushing while the storm lasts, until each chosen call has failed for good.
        deadline = time.monotonic() + 30
        flush = json.dumps({"action": "flush"}).encode()
        while not storm.exhausted_steps() >= MUST_FAIL and time.monotonic() < deadline:
            responses.append(_invoke(stack, time.monotonic(), 0.0, flush))
    stack.wait_executions_done(timeout=180)
    # The storm really hit the claim and record paths, and the chosen calls failed for good.
    assert sum(storm.throttled.values()) >= 30 and storm.throttled["claim_file"] >= 1, storm.throttled
    assert storm.exhausted_steps() >= MUST_FAIL, storm.exhausted
    # Tracking is not throttled here (test_faults covers it): every SQS message was taken.
    assert not any(r.get("batchItemFailures") for r in responses)

    # After the storm: claims left open, files claimed by a manifest that never started. No violation, only
    # explainable in-flight state.
    report = check(stack, DAY)
    assert report.ok and not report.settled, report.summary()
    files = stack.files(DAY)
    assert len(files) == FILES  # duplicates were no-ops
    open_claims = set(_open_claims(stack))
    started = set(_executions(stack))
    recorded = {m["manifest_id"] for m in stack.manifests(DAY)}
    assert started <= recorded | open_claims  # no execution that is neither recorded nor an open claim
    never_started = open_claims - started
    stranded = [f["file_key"] for f in files if f.get("manifest_id") in never_started]
    assert never_started and stranded, (open_claims, started)  # the claim whose rollback broke off
    assert open_claims & started, (open_claims, started)  # the unrecorded execution, the unclosed claim
    assert {f["status"] for f in files if f["file_key"] in stranded} == {"manifested"}

    # Recovery: the scheduled flush after REPAIR_GRACE_SECONDS. Its first step repairs every open claim: a started
    # execution is recorded, a claim whose execution never started goes back to pending, object deleted.
    repaired = later_app(stack).service.repair().to_dict()
    assert set(repaired["repaired_recorded"]) == open_claims & started, repaired
    assert set(repaired["repaired_rolled_back"]) == never_started, repaired
    assert _open_claims(stack) == []
    by_key = {f["file_key"]: f for f in stack.files(DAY)}
    for file_key in stranded:
        assert by_key[file_key]["status"] == "pending" and "manifest_id" not in by_key[file_key]
    objects = _manifest_objects(stack)
    assert not any(manifest_id in key for key in objects for manifest_id in never_started)
    report = check(stack, DAY)
    assert report.ok, report.summary()
    # ... then it batches what is due, the files of the rolled-back claim among them.
    outcome = flush_later(stack)
    assert outcome["started"] and not outcome["repaired_recorded"] + outcome["repaired_rolled_back"]
    report = check(stack, DAY)  # while those executions run
    assert report.ok, report.summary()

    manifests = _settle(stack)
    stack.wait_executions_done()
    # One execution per manifest (and `pipeline retry` attempts, <id>-r<n>); none for the rolled-back claim.
    names = _executions(stack)
    retries = [match["id"] for match in map(RETRY_NAME.fullmatch, names) if match]
    originals = [name for name in names if not RETRY_NAME.fullmatch(name)]
    ids = {m["manifest_id"] for m in manifests}
    assert sorted(originals) == sorted(ids) and set(retries) <= ids, (names, ids)
    assert not never_started & set(names)
    s3 = stack.aws.client("s3")
    objects = _manifest_objects(stack)
    urls = [
        entry["url"]
        for key in objects
        for entry in json.loads(s3.get_object(Bucket=MANIFESTS, Key=key)["Body"].read())["entries"]
    ]
    assert len(urls) == len(set(urls)) == FILES  # no file in two manifests, none lost
    assert len(objects) == len(manifests) and sum(int(m["file_count"]) for m in manifests) == FILES
    report = assert_holds(stack, DAY)
    assert report.lines_checked == FILES * ROWS and len(stack.lake_records(DAY)) == FILES * ROWS
