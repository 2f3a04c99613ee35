"""`pipeline schema show|diff|evolve` on the output folder of local job runs (`--lake`), both table formats: the
operator's way out of a producer change that the contract refuses (rename the old column, the next batch adds
the new one with its own type)."""

from __future__ import annotations

import json

import pytest
from test_contract_iceberg import convert, table_of
from typer.testing import CliRunner

from glue_jobs.ndjson_to_parquet.iceberg import data_schema
from pipeline.cli.app import app

pytestmark = pytest.mark.spark
runner = CliRunner()


def cli(*args: str):
    return runner.invoke(app, list(args), catch_exceptions=False)


def test_show_diff_evolve_iceberg(spark, tmp_path, out):
    convert(spark, tmp_path, out, "m-0001", [{"id": 1, "amount": 10, "flag": True}])
    shown = cli("schema", "show", "--lake", str(out), "--json")
    assert shown.exit_code == 0, shown.output
    view = json.loads(shown.output)
    assert view["table_format"] == "iceberg"
    assert view["columns"] == [
        {"name": "id", "type": "int64"},
        {"name": "amount", "type": "int64"},
        {"name": "flag", "type": "bool"},
    ]
    sample = tmp_path / "sample.ndjson"
    sample.write_text('{"id": 2, "amount": "12.50", "flag": true, "note": "x"}\n')
    diffed = cli("schema", "diff", "--lake", str(out), str(sample), "--json")
    assert diffed.exit_code == 0, diffed.output
    changes = {c["field"]: c for c in json.loads(diffed.output)["changes"]}
    assert changes["note"]["change"] == "added"
    assert changes["amount"]["change"] == "conformed" and changes["amount"]["table_type"] == "int64"
    assert "amount" in cli("schema", "diff", "--lake", str(out), str(sample)).output
    # long -> string is no promotion: refused, naming the way out
    refused = cli("schema", "evolve", "--lake", str(out), "--promote", "amount:string")
    assert refused.exit_code != 0 and "--rename amount:amount_old" in refused.output
    dry = cli("schema", "evolve", "--lake", str(out), "--rename", "amount:amount_v1")
    assert dry.exit_code == 0 and "would apply" in dry.output
    assert "amount" in data_schema(table_of(out)).names
    done = cli("schema", "evolve", "--lake", str(out), "--rename", "amount:amount_v1", "--apply")
    assert done.exit_code == 0, done.output
    assert data_schema(table_of(out)).names == ["id", "amount_v1", "flag"]
    report = convert(spark, tmp_path, out, "m-0002", ['{"id": 2, "amount": "12.50", "flag": true}'])
    assert report["contract"]["columns_added"] == ["amount"] and report["bad_records"] == 0
    rows = {r["id"]: r for r in table_of(out).scan().to_arrow().to_pylist()}
    assert rows[1]["amount_v1"] == 10 and rows[1]["amount"] is None
    assert rows[2]["amount"] == "12.50" and rows[2]["amount_v1"] is None


def test_parquet_contract_takes_added_columns_only(spark, tmp_path, out):
    from test_contract import convert as convert_parquet

    convert_parquet(spark, tmp_path, out, "m-0001", [{"id": 1, "amount": 10}])
    view = json.loads(cli("schema", "show", "--lake", str(out), "--json").output)
    assert view["table_format"] == "parquet" and view["source"] == f"file:{out}/_schema/contract.json"
    refused = cli("schema", "evolve", "--lake", str(out), "--rename", "amount:a2", "--apply")
    assert refused.exit_code != 0 and "added columns only" in refused.output
    added = cli("schema", "evolve", "--lake", str(out), "--add", "note:string", "--apply")
    assert added.exit_code == 0, added.output
    contract = json.loads((out / "_schema" / "contract.json").read_text())
    assert [f["name"] for f in contract["fields"]] == ["id", "amount", "note"]


def test_show_on_a_folder_without_a_table(tmp_path):
    (tmp_path / "empty").mkdir()
    shown = cli("schema", "show", "--lake", str(tmp_path / "empty"))
    assert shown.exit_code == 0 and "no contract yet" in shown.output
    missing = cli("schema", "show", "--lake", str(tmp_path / "nope"))
    assert missing.exit_code != 0 and "does not exist" in missing.output
