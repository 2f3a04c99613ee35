"""Names and tunables shared by the job's stages.

The tunables are not job arguments on purpose: they are sensible values for Glue workers and laptops alike
(docs/scaling.md tells how they were chosen).
"""

from __future__ import annotations

import pyarrow as pa

TS_TYPE = pa.timestamp("us", tz="UTC")
META_COLUMNS = ("_source_file", "_manifest_id", "_ingested_at")
PARTITION_COLUMN = "dt"  # the date folder's column: every reader sees the partition value under this name
# In lower case: top-level keys equal to one of them ignoring case are quarantined (reserved_field).
RESERVED_NAMES = frozenset((PARTITION_COLUMN, *META_COLUMNS))
LINE = "__ndjson_to_parquet_line__"  # internal column: a record's ordinal within its block (never written)

BLOCK_BYTES = 16 * 1024 * 1024  # lines parsed per pyarrow call; bounds a task's memory
SPLIT_BYTES = (
    64 * 1024 * 1024
)  # plain files larger than this are read by several tasks; smaller ones are packed
MAX_FILES_PER_TASK = 256
GZIP_EXPANSION = 6  # planning weight of a gzip byte (NDJSON typically compresses 5-10x)
ROW_GROUP_ROWS = 128 * 1024
# A row group's rows buffered in Arrow (the writer's memory per task): what caps wide records' row groups, which
# may otherwise fill a whole file (docs/scaling.md, 'Wide records, third pass').
GROUP_ARROW_BYTES = 512 * 1024 * 1024
# Parquet data page size (pyarrow's default is 1 MiB): zstd compresses pages under 128 KiB with its small-input
# parameters, 1-2% fewer bytes for wide records' large column chunks, the same for narrow events.
DATA_PAGE_BYTES = 64 * 1024
# --COMPRESSION_LEVEL's defaults (its ranges are codecs.json's "levels"): zstd 3 is DuckDB's and Spark's default
# (pyarrow's is 1); gzip 9 and brotli 8 are pyarrow's own defaults, written out so that --help can show them.
CODEC_LEVELS = {"zstd": 3, "gzip": 9, "brotli": 8}
# zstd level of the float columns not dictionary-encoded, when the job's is lower (parquet.float_levels)
FLOAT_ZSTD_LEVEL = 5
# Columns more distinct than this (in the sample) are written PLAIN (ids, IPs, event times); 0.9 rather than 0.5
# because amounts (~0.8 distinct) compress smaller with a dictionary: bench/results/parquet_bytes.md.
DICTIONARY_MAX_DISTINCT_RATIO = 0.9
SAMPLE_ROWS = 5_000  # rows compressed in stage 1 to estimate the Parquet size of a piece
SAMPLE_COLUMNS = 256  # at most this many of its columns (evenly spaced): wide pieces encode per column
# estimate_ratio writes its sample as two row groups (a third, the rest) when it has 3x this many rows: the ratio is
# the difference of their bytes over that of their Arrow bytes, a row's cost without a column chunk's fixed cost.
ESTIMATE_MIN_ROWS = 32
DICTIONARY_SAMPLE_ROWS = 16_384  # rows looked at to decide which string columns get a dictionary
# ...at most this many leaf values in all (rows x leaf columns), but never fewer rows than the minimum: wide
# tables look at fewer rows (4,096 for 1,000 keys; narrow events keep 16,384): docs/scaling.md, 'third pass'.
DICTIONARY_SAMPLE_VALUES = 1 << 20
DICTIONARY_MIN_SAMPLE_ROWS = 4_096
JSON_CHUNK_BYTES = 4 * 1024 * 1024  # pyarrow's JSON chunk on the slow path (a block's fast path: one chunk)
