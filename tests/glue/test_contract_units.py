"""The schema contract without Spark: evolve / diff by Iceberg's rules, the StructType JSON round trip, the
Glue type strings, and conform's `schema_contract` reasons and converted-value counts."""

from __future__ import annotations

import pyarrow as pa
import pytest

from glue_jobs.ndjson_to_parquet.conform import conform_to_contract
from glue_jobs.ndjson_to_parquet.constants import TS_TYPE
from glue_jobs.ndjson_to_parquet.contract import diff, evolve, from_json, to_json
from glue_jobs.ndjson_to_parquet.parquet_table import arrow_type, hive_type


def schema(**columns: pa.DataType) -> pa.Schema:
    return pa.schema([pa.field(name, data_type) for name, data_type in columns.items()])


def test_no_contract_the_batch_is_the_contract_nulls_as_strings():
    evolution = evolve(None, schema(a=pa.int64(), n=pa.null(), s=pa.struct([("x", pa.null())])))
    assert evolution.schema == schema(a=pa.int64(), n=pa.string(), s=pa.struct([("x", pa.string())]))
    assert evolution.added == ["a", "n", "s"]
    assert evolution.contract_columns == frozenset()
    assert evolution.changed


def test_contract_types_win_except_iceberg_promotions():
    contract = schema(
        amount=pa.int64(),
        flag=pa.bool_(),
        small=pa.int32(),
        ratio=pa.float32(),
        price=pa.decimal128(10, 2),
        other=pa.decimal128(10, 2),
        when=TS_TYPE,
    )
    batch = schema(
        amount=pa.string(),
        flag=pa.string(),
        small=pa.int64(),
        ratio=pa.float64(),
        price=pa.decimal128(20, 2),
        other=pa.decimal128(38, 0),  # another scale: no promotion
        when=pa.string(),
    )
    evolution = evolve(contract, batch)
    assert evolution.schema == schema(
        amount=pa.int64(),
        flag=pa.bool_(),
        small=pa.int64(),
        ratio=pa.float64(),
        price=pa.decimal128(20, 2),
        other=pa.decimal128(10, 2),
        when=TS_TYPE,
    )
    assert evolution.promoted == [
        {"field": "small", "from": "int32", "to": "int64"},
        {"field": "ratio", "from": "float", "to": "double"},
        {"field": "price", "from": "decimal128(10, 2)", "to": "decimal128(20, 2)"},
    ]
    assert evolution.added == []
    assert evolution.contract_columns == frozenset(contract.names)


def test_never_narrows_and_never_changes_family():
    contract = schema(a=pa.int64(), b=pa.float64(), c=pa.string(), d=pa.struct([("x", pa.int64())]))
    batch = schema(a=pa.int32(), b=pa.int64(), c=pa.int64(), d=pa.int64())
    evolution = evolve(contract, batch)
    assert evolution.schema == contract
    assert not evolution.changed


def test_new_columns_and_struct_fields_appended_in_batch_order_case_insensitive():
    contract = schema(
        Amount=pa.int64(),
        user=pa.struct([("id", pa.int64())]),
        items=pa.list_(pa.struct([("sku", pa.string())])),
    )
    batch = schema(
        zeta=pa.string(),
        amount=pa.int64(),
        USER=pa.struct([("ID", pa.int64()), ("name", pa.string())]),
        items=pa.list_(pa.struct([("qty", pa.int64()), ("sku", pa.string())])),
        alpha=pa.null(),
    )
    evolution = evolve(contract, batch)
    assert evolution.schema == schema(
        Amount=pa.int64(),
        user=pa.struct([("id", pa.int64()), ("name", pa.string())]),
        items=pa.list_(pa.struct([("sku", pa.string()), ("qty", pa.int64())])),
        zeta=pa.string(),
        alpha=pa.string(),
    )
    assert evolution.added == ["user.name", "items[].qty", "zeta", "alpha"]
    assert evolution.contract_columns == frozenset({"Amount", "user", "items"})


def test_null_batch_column_in_the_contract_takes_the_contract_type():
    contract = schema(a=pa.int64(), s=pa.struct([("x", pa.bool_())]))
    evolution = evolve(contract, schema(a=pa.null(), s=pa.struct([("x", pa.null())])))
    assert evolution.schema == contract
    assert not evolution.changed


def test_diff_lists_added_promoted_and_conformed_fields():
    contract = schema(amount=pa.int64(), small=pa.int32(), same=pa.string())
    changes = diff(contract, schema(amount=pa.string(), small=pa.int64(), same=pa.string(), new=pa.bool_()))
    assert [(c["field"], c["change"], c["table_type"], c["batch_type"]) for c in changes] == [
        ("amount", "conformed", "int64", "string"),
        ("small", "promoted", "int32", "int64"),
        ("new", "added", None, "bool"),
    ]
    assert "quarantined" in changes[0]["rule"]
    assert [c["change"] for c in diff(None, schema(a=pa.int64()))] == ["added"]


def test_struct_type_json_round_trip():
    original = schema(
        a=pa.int64(),
        b=pa.int32(),
        c=pa.float64(),
        d=pa.bool_(),
        e=TS_TYPE,
        f=pa.date32(),
        g=pa.decimal128(12, 3),
        h=pa.list_(pa.struct([("x", pa.string()), ("y", pa.list_(pa.int64()))])),
    )
    doc = to_json(original)
    assert doc["type"] == "struct" and doc["fields"][0] == {
        "name": "a",
        "type": "long",
        "nullable": True,
        "metadata": {},
    }
    assert from_json(doc) == original
    with pytest.raises(ValueError):
        from_json({"type": "struct"})
    with pytest.raises(ValueError):
        from_json([1])


def test_glue_type_strings_round_trip():
    nested = pa.struct([("id", pa.int64()), ("tags", pa.list_(pa.string())), ("price", pa.decimal128(9, 2))])
    assert hive_type(nested) == "struct<id:bigint,tags:array<string>,price:decimal(9,2)>"
    for data_type in (pa.int64(), pa.int32(), pa.float64(), pa.bool_(), TS_TYPE, pa.date32(), nested):
        assert arrow_type(hive_type(data_type)) == data_type
    assert arrow_type("varchar(20)") == pa.string()
    with pytest.raises(ValueError):
        arrow_type("map<string,int>")


def test_conform_reports_schema_contract_for_contract_columns_only():
    table = pa.table(
        {
            "amount": pa.array(["12", "12.50", "abc", None]),
            "flag": pa.array(["true", "true", "true", "yes"]),
            "note": pa.array(["1", "2", "x", "4"]),
        }
    )
    target = schema(amount=pa.int64(), flag=pa.bool_(), note=pa.int64())
    conformed = conform_to_contract(table, target, frozenset({"amount", "flag"}))
    assert conformed.bad == {
        1: "schema_contract: field 'amount' holds a string value that cannot be converted to the table type "
        "int64",
        2: "schema_contract: field 'amount' holds a string value that cannot be converted to the table type "
        "int64",
        3: "schema_contract: field 'flag' holds a string value that cannot be converted to the table type bool",
    }
    assert conformed.table.column("amount").to_pylist()[0] == 12
    # converted: the values of the rows kept (row 0 only); `note` is not in the contract: not counted
    assert conformed.converted == {"amount": 1, "flag": 1}
    plain = conform_to_contract(table.select(["note"]), schema(note=pa.int64()))
    assert plain.bad == {
        2: "type_conflict: field 'note' holds a string value that cannot be converted to the batch type int64"
    }


def test_conform_nested_contract_reasons_and_counts():
    table = pa.table({"s": pa.array([{"x": "1"}, {"x": "a"}, None]), "v": pa.array([[1, 2], None, [3]])})
    target = schema(s=pa.struct([("x", pa.int64())]), v=pa.list_(pa.float64()))
    conformed = conform_to_contract(table, target, frozenset({"s", "v"}))
    assert conformed.bad == {
        1: "schema_contract: field 's.x' holds a string value that cannot be converted to the table type int64"
    }
    assert conformed.converted == {"s": 1, "v": 3}


def test_promotions_can_be_refused():
    contract = schema(small=pa.int32())
    evolution = evolve(contract, schema(small=pa.int64()), promotions=False)
    assert evolution.schema == contract and evolution.promoted == []
    assert [c["change"] for c in diff(contract, schema(small=pa.int64()), promotions=False)] == ["conformed"]
