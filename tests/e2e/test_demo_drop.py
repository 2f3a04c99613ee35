"""The demo drop and the line accounting the embedded run relies on (no AWS, no Spark)."""

from __future__ import annotations

import datetime as dt
import gzip

import orjson

from pipeline.embedded.drop import DemoSpec, count_lines, generate_demo_drop


def test_demo_drop_has_two_dates_corrupt_lines_gzip_and_a_schema_change(tmp_path):
    files = generate_demo_drop(tmp_path, DemoSpec(files=10, total_mb=0.5), today=dt.date(2026, 11, 22))
    assert len(files) == 10
    assert {f.key.split("/")[1] for f in files} == {"2026-11-21", "2026-11-22"}
    assert [f.key for f in files if f.key.endswith(".gz")] == ["events/2026-11-22/part-0009.ndjson.gz"]
    assert sum(f.bad_lines or 0 for f in files) == 9  # three dirty files, three corrupt lines each
    drifted = set()
    for drop in files:
        assert count_lines(drop.path) == drop.lines  # the generator's count is the job's count
        opener = gzip.open if drop.key.endswith(".gz") else open
        with opener(drop.path, "rb") as handle:
            for line in handle:
                try:
                    record = orjson.loads(line)
                except orjson.JSONDecodeError:
                    continue
                if isinstance(record, dict) and "experiment" in record:
                    drifted.add(drop.key.split("/")[1])
    assert drifted == {"2026-11-22"}  # only the second date changes schema
    assert 400_000 < sum(f.size for f in files) < 700_000


def test_count_lines_skips_blank_lines_and_a_bom(tmp_path):
    path = tmp_path / "a.ndjson"
    path.write_bytes(b'\xef\xbb\xbf{"a": 1}\r\n\r\n  \n{"a": 2}\n{"a": 3}')
    assert count_lines(path) == 3
    zipped = tmp_path / "b.json.gz"
    zipped.write_bytes(gzip.compress(b'{"a": 1}\n\n{"a": 2}\n'))
    assert count_lines(zipped) == 2
