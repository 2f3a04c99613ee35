"""What the MANIFEST item keeps of a job report: the counts, and the schema contract's counts per batch."""

from pipeline.contracts.report import MANIFEST_COUNTS, report_counts


def test_contract_counts_and_snapshot_are_kept():
    report = {
        "records_in": 10,
        "records_out": 7,
        "bad_records": 3,
        "output_files": ["a", "b"],
        "contract": {
            "columns_added": ["note", "extra.k"],
            "values_converted": {"amount": 4, "flag": 1},
            "records_quarantined": 2,
        },
        "snapshot_id": 8728008507102310570,
    }
    assert report_counts(report) == {
        "records_in": 10,
        "records_out": 7,
        "bad_records": 3,
        "output_files": 2,
        "columns_added": 2,
        "values_converted": 5,
        "contract_quarantined": 2,
        "snapshot_id": 8728008507102310570,
    }
    assert "snapshot_id" not in MANIFEST_COUNTS  # an id, never summed into a date's totals


def test_malformed_contract_fields_are_ignored():
    report = {
        "records_in": 1,
        "contract": {"columns_added": "x", "values_converted": [1], "records_quarantined": -1},
    }
    assert report_counts(report) == {"records_in": 1}
    assert report_counts({"contract": None, "snapshot_id": True}) == {}
