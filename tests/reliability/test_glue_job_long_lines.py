"""A valid JSON object on a line longer than twice the job's pyarrow chunk (4 MiB) is a record, not `unconvertible`."""

from __future__ import annotations

import json

from glue_jobs.ndjson_to_parquet import JSON_CHUNK_BYTES, parse_block


def test_a_line_longer_than_the_json_chunk_is_converted():
    huge = json.dumps({"event_id": "big", "blob": "x" * (2 * JSON_CHUNK_BYTES + 10)}).encode()
    block = b'{"event_id": "small"}\n' + huge + b"\n{not json\n"
    result = parse_block("s3://b/k.ndjson", 0, block)
    rows = [row for table in result.tables for row in table.to_pylist()]
    assert sorted(r["event_id"] for r in rows) == ["big", "small"]
    assert [r["reason"].split(":")[0] for r in result.bad] == ["invalid_json"]
    assert result.records == 3
