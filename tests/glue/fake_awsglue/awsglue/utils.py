"""getResolvedOptions as aws-glue-libs implements it: every listed name required, unknown arguments ignored,
Glue's reserved names refused in `names` but always returned, argparse errors raised as GlueArgumentError."""

from __future__ import annotations

import argparse

RESERVED = ("JOB_ID", "JOB_RUN_ID", "SECURITY_CONFIGURATION", "encryption_type", "TempDir")


class GlueArgumentError(Exception):
    pass


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        raise GlueArgumentError(message)


def getResolvedOptions(args: list[str], options: list[str]) -> dict[str, str]:
    parser = _Parser()
    for reserved in RESERVED:
        if reserved in options:
            raise RuntimeError(f"Using reserved arguments {reserved}")
        parser.add_argument(f"--{reserved}", required=False)
    for option in options:
        parser.add_argument(f"--{option}", required=True)
    parsed, _ = parser.parse_known_args(args[1:])
    return {k: v for k, v in vars(parsed).items() if v is not None}
