"""The embedded AWS: moto's server in this process, on a free 127.0.0.1 port, with the bridges installed.

moto's backends are process-wide, and its Step Functions interpreter calls back into `localhost:$MOTO_PORT`, so
there is at most one embedded AWS per process.
"""

from __future__ import annotations

import errno
import logging
import os
import socket
import threading
from types import TracebackType
from typing import Any

from pipeline.contracts.errors import PipelineError
from pipeline.embedded import bridges

logger = logging.getLogger(__name__)

REGION = "us-east-1"
ACCOUNT_ID = "123456789012"  # moto's default account
DUMMY_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "embedded",
    "AWS_SECRET_ACCESS_KEY": "embedded",
    "AWS_DEFAULT_REGION": REGION,
}


class PortInUseError(PipelineError):
    error_name = "PortInUse"


class EmbeddedAwsAlreadyRunning(PipelineError):
    error_name = "EmbeddedAwsAlreadyRunning"


# The identity of the embedded runtime's own plumbing and of the test harness: the dummy keys until IAM is
# enforced, then the harness-only admin user's (pipeline/embedded/iam.py). Components never use it.
_harness_credentials: dict[str, str] = dict(DUMMY_CREDENTIALS)


def set_harness_credentials(access_key_id: str | None, secret_access_key: str | None) -> None:
    """The keys `harness_client` signs with (None: back to the dummy keys)."""
    _harness_credentials["AWS_ACCESS_KEY_ID"] = access_key_id or DUMMY_CREDENTIALS["AWS_ACCESS_KEY_ID"]
    _harness_credentials["AWS_SECRET_ACCESS_KEY"] = (
        secret_access_key or DUMMY_CREDENTIALS["AWS_SECRET_ACCESS_KEY"]
    )


def harness_credentials() -> dict[str, str]:
    return dict(_harness_credentials)


# The embedded stack's operators' role (terraform/examples/embedded, policy `operator_policy_json`), once assumed.
_operator_environment: dict[str, str] = {}


def set_operator_environment(environment: dict[str, str] | None) -> None:
    _operator_environment.clear()
    _operator_environment.update(environment or {})


def operator_environment() -> dict[str, str]:
    """AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY / AWS_SESSION_TOKEN of the operators' role (empty: none)."""
    return dict(_operator_environment)


# One boto3 session makes every harness client (their keys are passed per client): a session per client parsed
# botocore's endpoint and service data again each time, 100-160 ms of CPU per client on this machine, in the one
# process that also serves moto, the Lambdas and the Glue driver (the follow loop makes two clients a look).
_harness_session_lock = threading.Lock()  # a boto3 Session is not thread-safe (its clients are)
_harness_session: Any = None
_harness_session_handlers = -1  # len(BUILTIN_HANDLERS) when it was made: sessions copy them when created


def harness_client(service: str, endpoint_url: str | None = None, region: str = REGION, **kwargs: Any) -> Any:
    """A boto3 client signed with the harness identity (explicit keys: never the process environment, which a
    Glue run holds with its role's keys while the job runs)."""
    global _harness_session, _harness_session_handlers
    import boto3
    import botocore.handlers

    if endpoint_url is not None:
        kwargs["endpoint_url"] = endpoint_url
    with _harness_session_lock:
        # A process-wide observer appended to botocore's built-in handlers (pipeline/checks/botocore_hooks.py)
        # after the session was made would miss its clients: a new session then.
        if _harness_session is None or _harness_session_handlers != len(botocore.handlers.BUILTIN_HANDLERS):
            _harness_session = boto3.session.Session()
            _harness_session_handlers = len(botocore.handlers.BUILTIN_HANDLERS)
        return _harness_session.client(
            service,  # the service is chosen at run time
            region_name=region,
            aws_access_key_id=_harness_credentials["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=_harness_credentials["AWS_SECRET_ACCESS_KEY"],
            **kwargs,
        )


_active_lock = threading.Lock()
_active: EmbeddedAws | None = None


def free_port() -> int:
    """A TCP port on 127.0.0.1 that is free right now (the embedded AWS's default, and the tests')."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _check_port(port: int) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise PortInUseError(
                    f"Port {port} on 127.0.0.1 is already in use: stop whatever listens there, or choose another "
                    "port (or none, to pick a free one)."
                ) from exc
            raise


class EmbeddedAws:
    """moto's ThreadedMotoServer with Step Functions execution enabled and the moto bridges installed."""

    def __init__(self, port: int | None = None) -> None:
        self.requested_port = port
        self.port: int | None = None
        self._server: Any = None

    @property
    def endpoint_url(self) -> str:
        if self.port is None:
            raise RuntimeError("The embedded AWS is not started.")
        return f"http://127.0.0.1:{self.port}"

    def environment(self) -> dict[str, str]:
        """Variables that point the AWS CLI, boto3 and Terraform's provider at this endpoint."""
        return {**harness_credentials(), "AWS_ENDPOINT_URL": self.endpoint_url, "AWS_REGION": REGION}

    def start(self) -> EmbeddedAws:
        global _active
        with _active_lock:
            if _active is not None:
                raise EmbeddedAwsAlreadyRunning(
                    f"An embedded AWS already runs in this process at {_active.endpoint_url}; stop it first."
                )
            bridges.install()
            from moto.core.config import default_user_config
            from moto.server import ThreadedMotoServer

            default_user_config.setdefault("stepfunctions", {})["execute_state_machine"] = True
            port = self.requested_port or free_port()
            _check_port(port)
            # The Step Functions interpreter's own clients call localhost:$MOTO_PORT.
            os.environ["MOTO_PORT"] = str(port)
            server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
            server.start()
            self._server, self.port = server, port
            _active = self
            logger.info(
                "embedded AWS listening on %s (bridges: %s)",
                self.endpoint_url,
                ", ".join(bridges.installed_bridges()),
            )
            return self

    def reset(self) -> None:
        """Forget every resource (moto's reset API), keeping the server up."""
        import urllib.request

        url = f"{self.endpoint_url}/moto-api/reset"  # our own loopback endpoint, http only
        request = urllib.request.Request(url, method="POST")  # noqa: S310
        with urllib.request.urlopen(request, timeout=30):  # noqa: S310
            pass

    def client(self, service: str, **kwargs: Any) -> Any:
        return harness_client(service, self.endpoint_url, **kwargs)

    def stop(self) -> None:
        global _active
        with _active_lock:
            if self._server is not None:
                self._server.stop()
                self._server = None
            bridges.set_glue_runner(None)
            bridges.set_lambda_invoker(None)
            if _active is self:
                _active = None

    def __enter__(self) -> EmbeddedAws:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
