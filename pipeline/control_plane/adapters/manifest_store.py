"""S3 adapter for manifest objects."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from pipeline.contracts.manifest import Manifest, manifest_object_key, s3_url, split_s3_url
from pipeline.control_plane.adapters.backoff import RetryPolicy, error_code


class ManifestStore:
    def __init__(self, client: Any, bucket: str, prefix: str, retry: RetryPolicy) -> None:
        self._client = client
        self._bucket = bucket
        self._prefix = prefix
        self._retry = retry

    def path_for(self, date_prefix: str, manifest_id: str) -> str:
        return s3_url(self._bucket, manifest_object_key(self._prefix, date_prefix, manifest_id))

    def put(self, manifest: Manifest) -> str:
        key = manifest_object_key(self._prefix, manifest.date_prefix, manifest.manifest_id)
        body = manifest.to_json()
        self._retry.call(
            lambda: self._client.put_object(
                Bucket=self._bucket, Key=key, Body=body, ContentType="application/json"
            )
        )
        return s3_url(self._bucket, key)

    def get(self, path: str) -> Manifest | None:
        bucket, key = split_s3_url(path)
        try:
            response = self._retry.call(lambda: self._client.get_object(Bucket=bucket, Key=key))
        except ClientError as exc:
            if error_code(exc) in ("NoSuchKey", "404", "NotFound"):
                return None
            raise
        return Manifest.from_json(response["Body"].read())

    def delete(self, path: str) -> None:
        bucket, key = split_s3_url(path)
        self._retry.call(lambda: self._client.delete_object(Bucket=bucket, Key=key))
