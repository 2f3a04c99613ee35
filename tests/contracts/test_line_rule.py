"""One line rule (pipeline.contracts.lines) for the Glue job, the invariant checker and the `pipeline run` verifier.

Before it had one owner the verifier stripped every whitespace byte, so a line holding only a form feed was a record
for the job (quarantined as not JSON) but blank for `pipeline run`, which then reported a false RunIncomplete.
"""

from __future__ import annotations

import gzip

import pytest

from glue_jobs.ndjson_to_parquet import parse as job
from pipeline.checks.invariants import count_lines as checker_count
from pipeline.contracts.lines import count_records_in, is_blank
from pipeline.embedded.drop import count_lines as verifier_count

CASES = {
    "form feed only": (b'{"a":1}\n\x0c\n{"a":2}\n', 3),
    "vertical tab only": (b'{"a":1}\n\x0b\n', 2),
    "no-break space only": (b'{"a":1}\n\xc2\xa0\n', 2),
    "json whitespace only": (b'{"a":1}\n \t\r\n\n{"a":2}', 2),
    "crlf": (b'{"a":1}\r\n{"a":2}\r\n', 2),
    "bom at start": (b'\xef\xbb\xbf{"a":1}\n', 1),
    "bom alone on the first line": (b"\xef\xbb\xbf\n{}\n", 1),
    "bom mid-file is content": (b'{"a":1}\n\xef\xbb\xbf\n', 2),
    "unterminated last line": (b'{"a":1}\n{"a":2}', 2),
    "unterminated blank last line": (b'{"a":1}\n  ', 1),
    "empty file": (b"", 0),
}


def _job_records(content: bytes) -> int:
    """records_in as the job counts it: the lines of the (BOM-stripped) file minus its blank lines."""
    _, body = job.strip_block_bom(0, content)
    lines = body.count(b"\n") + (0 if body.endswith(b"\n") or not body else 1)
    return lines - job.count_blank_lines(body)


@pytest.mark.parametrize("name", sorted(CASES))
def test_every_counter_agrees_with_the_one_rule(name, tmp_path):
    content, expected = CASES[name]
    assert count_records_in(content) == expected
    assert _job_records(content) == expected
    assert checker_count(content) == expected
    plain = tmp_path / "f.ndjson"
    plain.write_bytes(content)
    assert verifier_count(plain) == expected
    packed = tmp_path / "f.ndjson.gz"
    packed.write_bytes(gzip.compress(content))
    assert verifier_count(packed) == expected


def test_blank_means_json_whitespace_only():
    assert is_blank(b"") and is_blank(b" \t\r") and is_blank(b"  \n")
    assert (
        not is_blank(b"\x0c") and not is_blank(b"\x0b") and not is_blank(b"\xc2\xa0") and not is_blank(b"{}")
    )
