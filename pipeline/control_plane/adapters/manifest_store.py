"""S3 adapter for manifest objects."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from pipeline.contracts.errors import ManifestNotReadable
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
        """The manifest, None when S3 says it does not exist (404). A 403 raises ManifestNotReadable: S3 answers
        403 for a missing key when the role lacks s3:ListBucket, so 403 means "missing or not permitted"."""
        bucket, key = split_s3_url(path)
        try:
            response = self._retry.call(lambda: self._client.get_object(Bucket=bucket, Key=key))
        except ClientError as exc:
            code = error_code(exc)
            if code in ("NoSuchKey", "404", "NotFound"):
                return None
            if code in ("AccessDenied", "403", "Forbidden") or _status(exc) == 403:
                raise ManifestNotReadable(
                    f"S3 answered 403 for the manifest {path}: it is missing, or this role may not read it (S3 "
                    "answers 403 instead of 404 for a missing key when the role lacks s3:ListBucket). Fix: grant "
                    "s3:GetObject on the manifests prefix and s3:ListBucket on the bucket for that prefix."
                ) from exc
            raise
        return Manifest.from_json(response["Body"].read())

    def delete(self, path: str) -> None:
        bucket, key = split_s3_url(path)
        self._retry.call(lambda: self._client.delete_object(Bucket=bucket, Key=key))


def _status(exc: ClientError) -> int | None:
    status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    return status if isinstance(status, int) else None
