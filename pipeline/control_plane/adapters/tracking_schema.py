"""The tracking table's key schema and indexes as ``CreateTable`` arguments (docs/tracking-table.md).

Terraform declares the real table; this is for tests, benchmarks and anyone provisioning without Terraform.
"""

from __future__ import annotations

from typing import Any

from pipeline.control_plane.adapters.tracking_records import (
    MANIFEST_INDEX,
    OPEN_CLAIMS_INDEX,
    OPEN_MANIFESTS_INDEX,
    PENDING_INDEX,
)

INDEXES: dict[str, tuple[str, str, list[str]]] = {
    PENDING_INDEX: ("pending_shard", "pending_key", ["bucket", "key", "size", "etag", "created_at"]),
    MANIFEST_INDEX: ("manifest_id", "file_key", ["status", "created_at", "size"]),
    OPEN_CLAIMS_INDEX: ("claim_open", "claimed_at", ["manifest_id"]),
    OPEN_MANIFESTS_INDEX: ("manifest_open", "open_since", ["manifest_id", "status"]),
}


def create_table_arguments(table_name: str) -> dict[str, Any]:
    attributes = ["date_prefix", "file_key"] + [a for h, r, _ in INDEXES.values() for a in (h, r)]
    return {
        "TableName": table_name,
        "BillingMode": "PAY_PER_REQUEST",
        "KeySchema": [
            {"AttributeName": "date_prefix", "KeyType": "HASH"},
            {"AttributeName": "file_key", "KeyType": "RANGE"},
        ],
        "AttributeDefinitions": [
            {"AttributeName": name, "AttributeType": "S"} for name in dict.fromkeys(attributes)
        ],
        "GlobalSecondaryIndexes": [
            {
                "IndexName": index,
                "KeySchema": [
                    {"AttributeName": hash_key, "KeyType": "HASH"},
                    {"AttributeName": range_key, "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "INCLUDE", "NonKeyAttributes": extra},
            }
            for index, (hash_key, range_key, extra) in INDEXES.items()
        ],
    }


def create_tracking_table(client: Any, table_name: str) -> None:
    client.create_table(**create_table_arguments(table_name))
    client.get_waiter("table_exists").wait(TableName=table_name)
    client.update_time_to_live(
        TableName=table_name, TimeToLiveSpecification={"Enabled": True, "AttributeName": "ttl"}
    )
