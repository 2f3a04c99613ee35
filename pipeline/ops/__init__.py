"""Operator commands' logic: status, retry, redrive, reconcile, backfill, replay.

One module per command, each a plain function over boto3 clients and the stack's names
(`stack_names.StackNames`), returning a typed result that the CLI (`pipeline.cli.ops`) prints. Errors are
`OpsError`s (a `PipelineError`) carrying a stable `error_name` and one human sentence.
"""
