"""AWS session factory for the operator commands.

Real AWS through boto3's normal credential chain (environment, profile, SSO, instance role), or the embedded AWS
(moto server) when an endpoint URL is given by `--endpoint-url` or the `AWS_ENDPOINT_URL` environment variable.
Clients retry throttling with boto3's adaptive mode.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

import boto3
from botocore.config import Config

_SINGLE_ATTEMPT = Config(retries={"max_attempts": 1, "mode": "standard"})
_RETRIES = Config(
    retries={"max_attempts": 8, "mode": "adaptive"}, user_agent_extra="ndjson-parquet-pipeline-ops"
)


@dataclass
class AwsSession:
    """Creates (and caches) boto3 clients for one endpoint, region and profile."""

    endpoint_url: str | None = None
    region: str | None = None
    profile: str | None = None
    _session: Any = field(default=None, init=False, repr=False)
    _clients: dict[str, Any] = field(default_factory=dict, init=False, repr=False)

    @classmethod
    def create(
        cls, endpoint_url: str | None = None, region: str | None = None, profile: str | None = None
    ) -> AwsSession:
        """Flags win over the environment; an empty endpoint means real AWS."""
        endpoint = endpoint_url or os.environ.get("AWS_ENDPOINT_URL") or None
        return cls(endpoint_url=endpoint, region=region, profile=profile)

    @property
    def session(self) -> Any:
        if self._session is None:
            self._session = boto3.session.Session(profile_name=self.profile, region_name=self.region)
        return self._session

    @property
    def region_name(self) -> str:
        region = self.session.region_name
        if not region:
            from pipeline.ops.errors import StackNameMissing

            raise StackNameMissing(
                "No AWS region is configured: pass --region, set AWS_REGION, or put `region` in the stack outputs."
            )
        return str(region)

    def client(self, service: str, *, single_attempt: bool = False) -> Any:
        """A cached client; `single_attempt` for probes whose failure means "not supported" (no retries)."""
        cache_key = f"{service}/single" if single_attempt else service
        if cache_key not in self._clients:
            config = _SINGLE_ATTEMPT if single_attempt else _RETRIES
            kwargs: dict[str, Any] = {"config": config, "region_name": self.region_name}
            if self.endpoint_url:
                kwargs["endpoint_url"] = self.endpoint_url
            self._clients[cache_key] = self.session.client(service, **kwargs)
        return self._clients[cache_key]
