r"""NDJSON -> Parquet: the AWS Glue 5 job, as a package (entry script: glue_jobs/run_ndjson_to_parquet.py).

    python glue_jobs/run_ndjson_to_parquet.py --JOB_NAME local --MANIFEST_PATH m.json --OUTPUT_PATH out/ \
        --COMPRESSION_TYPE zstd

Stdlib + pyspark + pyarrow (orjson when installed) + `pipeline.contracts` (stdlib only, for the line rule): on
Glue the package and the contracts come from the --extra-py-files zip built by `pipeline build-glue`, so the
executors import the same code. See docs/glue-job.md for the full contract; in short:

* Spark distributes the work; each Spark task parses NDJSON with pyarrow (C++) and writes Parquet with pyarrow,
  which is why every codec pyarrow supports (brotli included) works on plain Spark 3.5 and on Glue alike.
* Stage 1 (one task per input file or per 64 MB range of a large plain file): split into blocks of lines, parse
  each block, quarantine what is not a JSON object, stage the typed Arrow pieces, return their schemas and counts.
* Driver: merge the piece schemas into one batch schema (widening null -> any, int -> double, struct fields
  unioned, list items merged; other conflicts: the type carried by most values wins).
* Stage 2 (one task per output file group): convert each piece to the batch schema (values of the losing type are
  converted when that is lossless - "12.50" -> 12.5 - and their records quarantined otherwise), add the metadata
  columns and write Parquet files of about TARGET_FILE_MB.
* Publish: quarantine first, then the Parquet files of this manifest replace exactly its previous files; the job
  report goes to OUTPUT_PATH/_reports/<manifest_id>.json. Nothing is published where readers look until every
  task has succeeded and the bad-record ratio is within bounds.

Modules: args (arguments, codecs), storage (file access with explicit S3 options), manifest, schema (resolve /
merge), conform (type conversions), parse (blocks, fast and slow path), quarantine, plan (task planning),
parquet (file writing), tasks (the Spark task bodies), publish, report, job (run_job, preflight).
"""

from __future__ import annotations

from .args import PYARROW_CODECS, JobArgs, check_codec, load_codecs, parse_job_args
from .constants import JSON_CHUNK_BYTES, LINE
from .errors import JobError
from .job import preflight, run_job
from .manifest import Entry, Manifest, load_manifest
from .parse import count_blank_lines, iter_blocks, parse_block
from .schema import resolve_schema

__all__ = [
    "JSON_CHUNK_BYTES",
    "LINE",
    "PYARROW_CODECS",
    "Entry",
    "JobArgs",
    "JobError",
    "Manifest",
    "check_codec",
    "count_blank_lines",
    "iter_blocks",
    "load_codecs",
    "load_manifest",
    "parse_block",
    "parse_job_args",
    "preflight",
    "resolve_schema",
    "run_job",
]
