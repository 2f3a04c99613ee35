"""The job's one EMF line per run: printed to stdout (the job's CloudWatch log) with exactly the report's counts,
quarantine by reason class, also for a run that fails on the bad-record ratio; no line without a namespace."""

from __future__ import annotations

import json

import pytest
from glue_helpers import run, write_manifest
from test_job import _nasty_file

from glue_jobs.ndjson_to_parquet import JobError
from pipeline.contracts import metrics as m

NAMESPACE = "test-stack/pipeline"


def emf_lines(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines() if line.startswith('{"_aws"')]


def test_a_run_prints_one_line_with_the_reports_counts(spark, tmp_path, out, capsys):
    plain = tmp_path / "nasty.ndjson"
    _nasty_file(plain)
    report = run(
        spark, write_manifest(tmp_path, [plain]), out, MAX_BAD_RECORD_RATIO=0.9, METRICS_NAMESPACE=NAMESPACE
    )
    [line] = emf_lines(capsys.readouterr().out)
    [directive] = line["_aws"]["CloudWatchMetrics"]
    assert directive["Namespace"] == NAMESPACE and directive["Dimensions"] == [["service"]]
    assert line["service"] == m.GLUE_SERVICE
    assert {d["Name"] for d in directive["Metrics"]} == {x.name for x in m.GLUE_METRICS}
    assert line["RecordsIn"] == report["records_in"] and line["RowsOut"] == report["records_out"]
    assert line["RecordsQuarantined"] == report["bad_records"] > 0
    assert line["BytesIn"] == report["bytes_in"] and line["BytesOut"] == report["bytes_out"] > 0
    assert line["RunSeconds"] == report["seconds"]
    by_reason = report["bad_records_by_reason"]
    syntax = sum(
        n for r, n in by_reason.items() if r in ("invalid_json", "invalid_utf8", "not_a_json_object")
    )
    assert line["RecordsQuarantinedSyntax"] == syntax > 0
    assert line["RecordsQuarantinedShape"] == by_reason.get("unconvertible", 0) > 0
    assert sum(line[x.name] for x in m.QUARANTINED_BY_CLASS.values()) == report["bad_records"]
    assert "nasty" not in json.dumps(line) and "m-0001" not in json.dumps(line)  # no file nor manifest id


def test_a_run_failing_on_the_ratio_still_counts_its_quarantine(spark, tmp_path, out, capsys):
    plain = tmp_path / "nasty.ndjson"
    lines, good = _nasty_file(plain)
    with pytest.raises(JobError):
        run(
            spark,
            write_manifest(tmp_path, [plain]),
            out,
            MAX_BAD_RECORD_RATIO=0.0,
            METRICS_NAMESPACE=NAMESPACE,
        )
    [line] = emf_lines(capsys.readouterr().out)
    assert line["RecordsIn"] == lines and line["RecordsQuarantined"] == lines - good and line["RowsOut"] == 0


def test_no_namespace_no_line(spark, tmp_path, out, capsys):
    plain = tmp_path / "nasty.ndjson"
    _nasty_file(plain)
    run(spark, write_manifest(tmp_path, [plain]), out, MAX_BAD_RECORD_RATIO=0.9)
    assert emf_lines(capsys.readouterr().out) == []
