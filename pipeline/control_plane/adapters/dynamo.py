"""The plumbing every part of the tracking adapter shares: one table, calls through the backoff policy, and
conditional writes that answer False instead of raising when their condition did not hold."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from pipeline.control_plane.adapters.backoff import RetryPolicy, error_code
from pipeline.control_plane.adapters.codec import s


class TableAccess:
    def __init__(self, client: Any, table_name: str, retry: RetryPolicy, pending_shards: int) -> None:
        self._client = client
        self._table = table_name
        self._retry = retry
        self.pending_shards = pending_shards

    def _call(self, operation: str, **kwargs: Any) -> dict[str, Any]:
        method = getattr(self._client, operation)
        kwargs.setdefault("ReturnConsumedCapacity", "TOTAL")
        return self._retry.call(lambda: method(TableName=self._table, **kwargs))

    def _conditional(self, operation: str, **kwargs: Any) -> dict[str, Any] | None:
        """Run a conditional write; None when its condition did not hold."""
        try:
            return self._call(operation, **kwargs)
        except ClientError as exc:
            if error_code(exc) == "ConditionalCheckFailedException":
                return None
            raise

    def _transact(self, items: list[dict[str, Any]]) -> bool:
        """One TransactWriteItems; False when it was cancelled because a condition did not hold."""
        try:
            self._retry.call(
                lambda: self._client.transact_write_items(TransactItems=items, ReturnConsumedCapacity="TOTAL")
            )
        except ClientError as exc:
            if error_code(exc) != "TransactionCanceledException":
                raise
            # cancelled only by conditions: False; by anything else (a conflicting transaction, throttling):
            # raised, the caller's step is idempotent and is run again
            reasons = exc.response.get("CancellationReasons") or []
            codes = {r.get("Code") for r in reasons if r.get("Code") not in (None, "None")}
            if codes and codes <= {"ConditionalCheckFailed"}:
                return False
            raise
        return True

    @staticmethod
    def _key(date_prefix: str, file_key: str) -> dict[str, Any]:
        return {"date_prefix": s(date_prefix), "file_key": s(file_key)}
