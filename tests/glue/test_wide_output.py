"""Wide records, third pass (issue 17): the per-column work of the stages.

observe_table and conform_to_contract answer most columns of a wide piece without a compute call; what they
report is unchanged (checked against literal observations and against the general conform path).
"""

from __future__ import annotations

import random

import pyarrow as pa

from glue_jobs.ndjson_to_parquet.conform import conform_to_contract, schema_has_timestamps, text_schema
from glue_jobs.ndjson_to_parquet.constants import TS_TYPE
from glue_jobs.ndjson_to_parquet.schema import WIDE_INT64, first_valid_index, observe_table


def test_first_valid_index_is_the_first_non_null_value_of_any_slice():
    rng = random.Random(7)
    for _ in range(2000):
        size = rng.randint(1, 90)
        share = rng.random()
        array = pa.array([None if rng.random() < share else str(i) for i in range(size)], pa.string())
        start = rng.randint(0, size - 1)
        part = array.slice(start, rng.randint(0, size - start))
        expected = next((i for i, value in enumerate(part.to_pylist()) if value is not None), None)
        assert first_valid_index(part) == expected


def test_observe_table_finds_iso_strings_after_nulls_and_integers_beyond_2_53_at_any_depth():
    table = pa.table(
        {
            "seen": pa.array([None, None, "2020-01-01T00:00:00Z", "2021-01-01 10:00"]),
            "mixed": pa.array([None, "2020-01-01T00:00:00Z", "x", None]),  # an ISO first value, then text
            "big": pa.array([1, 2**60, None, 3]),
            "nested": pa.array(
                [
                    {"ids": [1, 2], "at": "2020-01-01T00:00"},
                    None,
                    {"ids": [2**54], "at": None},
                    {"ids": None, "at": "2020-02-02T00:00Z"},
                ]
            ),
            "small": pa.array([1, 2, 3, None]),
            "empty": pa.array([None] * 4, pa.string()),
            "__ndjson_to_parquet_line__": pa.array([0, 1, 2, 3]),  # internal: never observed
        }
    )
    nested = table.schema.field("nested").type
    expected = [
        (("seen",), TS_TYPE, 2),
        (("mixed",), pa.string(), 2),
        (("big",), WIDE_INT64, 3),
        (("nested",), nested, 3),
        (("nested", "ids"), pa.list_(pa.int64()), 2),
        (("nested", "ids", None), WIDE_INT64, 3),
        (("nested", "at"), TS_TYPE, 2),
        (("small",), pa.int64(), 3),
        (("empty",), pa.string(), 0),
    ]
    assert observe_table(table) == expected
    # Sliced and multi-chunk pieces observe the same way (their bitmaps start mid-byte).
    assert observe_table(table.slice(2)) == [
        (("seen",), TS_TYPE, 2),
        (("mixed",), pa.string(), 1),
        (("big",), pa.int64(), 1),  # 2**60 is sliced off
        (("nested",), nested, 2),
        (("nested", "ids"), pa.list_(pa.int64()), 1),
        (("nested", "ids", None), WIDE_INT64, 1),
        (("nested", "at"), TS_TYPE, 1),
        (("small",), pa.int64(), 1),
        (("empty",), pa.string(), 0),
    ]
    doubled = pa.concat_tables([table, table])
    assert [(p, t, n // 2) for p, t, n in observe_table(doubled)] == expected


def test_timestamps_are_found_through_the_schema_text_at_any_depth():
    wide = [pa.field(f"k{i}", pa.int64()) for i in range(3000)]
    deep = pa.field("z", pa.list_(pa.struct([pa.field("t", pa.timestamp("s"))])))
    assert schema_has_timestamps(pa.schema([*wide, deep]))
    assert text_schema(pa.schema([*wide, deep])).field("z").type == pa.list_(pa.struct([("t", pa.string())]))
    assert not schema_has_timestamps(pa.schema(wide))
    assert text_schema(pa.schema(wide)) is None
    assert not schema_has_timestamps(pa.schema([pa.field("timestamp[x]", pa.int64())]))  # a name, not a type


def test_a_piece_with_the_batch_spellings_conforms_as_one_with_other_spellings():
    """The exact-names path (most pieces: a subset of the batch's columns, spelled as the schema spells them)
    gives the table, the reasons and the conversion counts the general path gives the same piece with a name
    spelled in another case (which it coalesces into the same column)."""
    schema = pa.schema(
        [
            ("id", pa.string()),
            ("amount", pa.float64()),
            ("count", pa.int64()),
            ("note", pa.string()),
            ("absent", pa.bool_()),
        ]
    )
    piece = {
        "count": pa.array(["12", "x", None, "7"]),  # a string column of the contract's int64: one bad value
        "amount": pa.array([1, 2, None, 2**60]),  # integers into the batch's double: 2**60 is not exact
        "id": pa.array(["a", "b", "c", "d"]),
    }
    contract = frozenset({"count"})
    exact = conform_to_contract(pa.table(piece), schema, contract)
    respelled = {("ID" if name == "id" else name): array for name, array in piece.items()}
    general = conform_to_contract(pa.table(respelled), schema, contract)
    assert exact.table.equals(general.table)
    assert exact.table.schema == schema
    assert exact.bad == general.bad
    assert (
        exact.converted == general.converted == {"count": 1}
    )  # "12" and "7", less row 1's quarantined record
    assert sorted(exact.bad) == [1, 3]
    assert exact.bad[1].startswith("schema_contract: field 'count'")
    assert exact.bad[3].startswith("type_conflict: field 'amount'")
    assert exact.table.column("absent").null_count == 4
    assert exact.table.column("amount").to_pylist() == [1.0, 2.0, None, None]
