"""The checker's line count must be the Glue job's `records_in` (no AWS needed)."""

from __future__ import annotations

import gzip

import pytest

from glue_jobs.ndjson_to_parquet import count_blank_lines
from pipeline.checks.invariants import count_lines, decoded_content, split_s3


@pytest.mark.parametrize(
    "content",
    [
        b"",
        b"\n",
        b'{"a":1}',
        b'{"a":1}\n\n  \n{"b":2}\r\n',
        b"\xef\xbb\xbf" + b'{"a":1}\n',
        b'\t\r\n{"a":1}\n   ',
        b"x\x00y\n\xe9\n",
    ],
)
def test_count_lines_matches_the_job(content):
    lines = content.count(b"\n") + (0 if content.endswith(b"\n") or not content else 1)
    assert count_lines(content) == lines - count_blank_lines(content)


def test_gzip_is_decoded_and_a_truncated_one_is_unreadable():
    whole = gzip.compress(b'{"a":1}\n' * 100)
    assert decoded_content(whole, "x.ndjson.gz") == b'{"a":1}\n' * 100
    assert decoded_content(whole[: len(whole) // 2], "x.ndjson.gz") is None
    assert decoded_content(b"plain", "x.ndjson") == b"plain"
    assert split_s3("s3://b/k/x.ndjson") == ("b", "k/x.ndjson")
    with pytest.raises(ValueError):
        split_s3("file:///tmp/x")
