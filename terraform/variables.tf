# The root module has no provider block: the caller configures the aws provider (terraform/examples/aws for an
# account, terraform/examples/embedded for the local emulator) and its default_tags.
# `nullable = false` on every variable with a non-null default: a caller that passes null (the examples pass their
# unset variables straight through) gets the default below, so each default has one home, here.

# ---------------------------------------------------------------------------------------------- deployment

variable "name_prefix" {
  description = "Prefix of every resource name (lowercase letters, digits and hyphens; bucket names add the role, account id and region)."
  type        = string
  default     = "ndjson-pipeline"
  nullable    = false

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,22}[a-z0-9]$", var.name_prefix))
    error_message = "name_prefix must be 3-24 characters of lowercase letters, digits and hyphens, starting with a letter and not ending with a hyphen."
  }
}

variable "aws_region" {
  description = "Region of the stack (it names ARNs in policies and the state machine): the region of the aws provider the caller configures."
  type        = string
  default     = "us-east-1"
  nullable    = false

  validation {
    condition     = can(regex("^[a-z]{2}(-[a-z]+)+-[0-9]$", var.aws_region))
    error_message = "aws_region must be a region name such as us-east-1 or eu-west-3."
  }
}

variable "kms_key_arn" {
  description = "Bring your own customer managed KMS key (ARN) instead of the one this stack creates with rotation. Its key policy must let the account's IAM policies grant it and allow CloudWatch Logs, vended log delivery (delivery.logs), CloudWatch alarms and S3 notifications as terraform/modules/kms does (output kms_key_policy_service_statements; docs/deploy.md)."
  type        = string
  default     = null
}

variable "enforce_tls_bucket_policies" {
  description = "Deny requests made without TLS in every bucket policy. Keep true on AWS. Only an emulator reached over plain HTTP that cannot evaluate policy conditions needs false (moto applies a conditional Deny to every request)."
  type        = bool
  default     = true
  nullable    = false
}

variable "access_logs_bucket" {
  description = "Existing bucket (in the same account and region) that receives S3 server access logs of the four buckets; null: none."
  type        = string
  default     = null
}

variable "force_destroy" {
  description = "Let terraform destroy delete non-empty buckets. Only for throw-away stacks."
  type        = bool
  default     = false
  nullable    = false
}

variable "deletion_protection" {
  description = "Protect the tracking table against deletion."
  type        = bool
  default     = true
  nullable    = false
}

variable "point_in_time_recovery" {
  description = "Point-in-time recovery of the tracking table."
  type        = bool
  default     = true
  nullable    = false
}

variable "log_retention_days" {
  description = "Retention of the Lambda, Step Functions and Glue log groups (the job's <prefix>/error and <prefix>/output groups are created by Terraform with it)."
  type        = number
  default     = 90
  nullable    = false

  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.log_retention_days)
    error_message = "log_retention_days must be one of the values CloudWatch Logs accepts: 1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288 or 3653."
  }
}

# ------------------------------------------------------------------------------------------- data layout

variable "table_name" {
  description = "Name of the output table: Parquet goes to s3://<output bucket>/lake/<table_name>/, bad records to s3://<output bucket>/quarantine/<table_name>/."
  type        = string
  default     = "events"
  nullable    = false

  validation {
    condition     = can(regex("^[a-z][a-z0-9_]{0,63}$", var.table_name))
    error_message = "table_name must be lowercase letters, digits and underscores (a valid Glue/Athena table name), starting with a letter."
  }
}

variable "manifest_prefix" {
  description = "Key prefix of the manifests in the manifest bucket (ends with /)."
  type        = string
  default     = "manifests/"
  nullable    = false

  validation {
    condition     = can(regex("^[A-Za-z0-9!_.*'()-]+(/[A-Za-z0-9!_.*'()-]+)*/$", var.manifest_prefix))
    error_message = "manifest_prefix must be a key prefix ending with /, e.g. manifests/."
  }
}

variable "input_prefix" {
  description = "Only keys under this prefix of the input bucket are ingested (empty: the whole bucket)."
  type        = string
  default     = ""
  nullable    = false
}

variable "accepted_suffixes" {
  description = "Object key suffixes ingested from the input bucket (each one S3 notification filter and the Lambda's ACCEPTED_SUFFIXES)."
  type        = list(string)
  default     = [".ndjson", ".jsonl", ".json", ".ndjson.gz", ".jsonl.gz", ".json.gz"]
  nullable    = false

  validation {
    condition     = length(var.accepted_suffixes) > 0 && alltrue([for s in var.accepted_suffixes : can(regex("^\\.[a-z0-9.]+$", s))])
    error_message = "accepted_suffixes must be a non-empty list of lowercase suffixes starting with a dot, e.g. \".ndjson.gz\"."
  }
}

variable "manifest_expiration_days" {
  description = "Days before manifest objects expire."
  type        = number
  default     = 30
  nullable    = false
}

variable "quarantine_expiration_days" {
  description = "Days before quarantined bad records expire."
  type        = number
  default     = 90
  nullable    = false
}

# ------------------------------------------------------------------------------------------------ ingest

variable "sqs_batch_size" {
  description = "SQS messages per manifest builder invocation."
  type        = number
  default     = 10
  nullable    = false
}

variable "sqs_maximum_batching_window_seconds" {
  description = "Seconds the event source mapping gathers messages before invoking the manifest builder."
  type        = number
  default     = 5
  nullable    = false
}

variable "sqs_max_receive_count" {
  description = "Receives of an ingest message before it moves to the dead-letter queue."
  type        = number
  default     = 5
  nullable    = false
}

variable "ingest_message_retention_seconds" {
  description = "Retention of the ingest queue (the dead-letter queue always keeps 14 days)."
  type        = number
  default     = 345600
  nullable    = false
}

# ------------------------------------------------------------------------------------------------ lambda

variable "lambda_zip_path" {
  description = "Path of the Lambda package built by `pipeline build-lambda` (default output: dist/lambda.zip)."
  type        = string

  validation {
    condition     = fileexists(var.lambda_zip_path)
    error_message = "lambda_zip_path does not point to a file: build the package first with `pipeline build-lambda --out dist/lambda.zip`."
  }
}

variable "lambda_runtime" {
  description = "Lambda runtime of the functions (the package is built for Python 3.11)."
  type        = string
  default     = "python3.11"
  nullable    = false

  validation {
    condition     = contains(["python3.11", "python3.12"], var.lambda_runtime)
    error_message = "lambda_runtime must be python3.11 or python3.12."
  }
}

variable "lambda_architecture" {
  description = "Lambda instruction set: arm64 (about 20% cheaper) or x86_64."
  type        = string
  default     = "arm64"
  nullable    = false
}

variable "lambda_memory_mb" {
  description = "Memory of the manifest builder (and status updater) in MB."
  type        = number
  default     = 512
  nullable    = false

  validation {
    condition     = var.lambda_memory_mb >= 128 && var.lambda_memory_mb <= 10240
    error_message = "lambda_memory_mb must be between 128 and 10240."
  }
}

variable "lambda_timeout_seconds" {
  description = "Timeout of the manifest builder; the ingest queue's visibility timeout is six times this."
  type        = number
  default     = 120
  nullable    = false

  validation {
    condition     = var.lambda_timeout_seconds >= 10 && var.lambda_timeout_seconds <= 900
    error_message = "lambda_timeout_seconds must be between 10 and 900."
  }
}

variable "manifest_builder_reserved_concurrency" {
  description = "Reserved concurrency of the manifest builder. The SQS event source mapping's maximum concurrency is this, or one less when separate_status_updater = false (the slot the state machine's status updates need)."
  type        = number
  default     = 5
  nullable    = false

  validation {
    condition     = var.manifest_builder_reserved_concurrency >= 2 && var.manifest_builder_reserved_concurrency <= 1000
    error_message = "manifest_builder_reserved_concurrency must be between 2 and 1000 (SQS event source mappings need at least 2)."
  }

  validation {
    condition     = var.separate_status_updater || var.manifest_builder_reserved_concurrency >= 3
    error_message = "manifest_builder_reserved_concurrency must be at least 3 when separate_status_updater = false: the function also serves the state machine's status updates, so the SQS event source mapping gets one slot less (it needs at least 2)."
  }

  validation {
    condition     = var.manifest_builder_reserved_concurrency + (var.separate_status_updater ? var.status_updater_reserved_concurrency : 0) <= var.lambda_concurrent_executions_quota - 100
    error_message = "The functions' reserved concurrency (manifest_builder_reserved_concurrency, plus status_updater_reserved_concurrency when separate_status_updater) must leave the 100 unreserved executions Lambda keeps out of lambda_concurrent_executions_quota: raise the account's Lambda concurrency quota (Service Quotas, \"Concurrent executions\") and lambda_concurrent_executions_quota with it, or lower the reservations (docs/deploy.md, prerequisites)."
  }
}

variable "lambda_concurrent_executions_quota" {
  description = "The account's Lambda \"Concurrent executions\" quota in the region (`aws lambda get-account-settings` -> AccountLimit.ConcurrentExecutions; 1000 by default, often 10 in new accounts). Lambda keeps 100 of it unreserved, so the functions' reserved concurrency must fit in the rest (minus what other functions of the account reserve): checked before anything is created."
  type        = number
  default     = 1000
  nullable    = false

  validation {
    condition     = var.lambda_concurrent_executions_quota >= 1 && floor(var.lambda_concurrent_executions_quota) == var.lambda_concurrent_executions_quota
    error_message = "lambda_concurrent_executions_quota must be a whole number (the account's Lambda concurrent executions quota)."
  }
}

variable "separate_status_updater" {
  description = "Deploy the state machine's status update as its own function (lambda/batch_status_updater.py) with its own, smaller role. When false the manifest builder handles it."
  type        = bool
  default     = true
  nullable    = false
}

variable "status_updater_reserved_concurrency" {
  description = "Reserved concurrency of the status updater function."
  type        = number
  default     = 5
  nullable    = false

  validation {
    condition     = var.status_updater_reserved_concurrency >= 1 && var.status_updater_reserved_concurrency <= 1000
    error_message = "status_updater_reserved_concurrency must be between 1 and 1000."
  }
}

variable "log_level" {
  description = "LOG_LEVEL of the functions."
  type        = string
  default     = "INFO"
  nullable    = false

  validation {
    condition     = contains(["DEBUG", "INFO", "WARNING", "ERROR"], var.log_level)
    error_message = "log_level must be one of DEBUG, INFO, WARNING, ERROR."
  }
}

variable "max_files_per_manifest" {
  description = "A batch closes at this many files (MAX_FILES_PER_MANIFEST)."
  type        = number
  default     = 100
  nullable    = false

  validation {
    condition     = var.max_files_per_manifest >= 1 && var.max_files_per_manifest <= 10000
    error_message = "max_files_per_manifest must be between 1 and 10000."
  }
}

variable "max_bytes_per_manifest" {
  description = "A batch closes at this many bytes (MAX_BYTES_PER_MANIFEST). Bigger batches mean fewer Glue runs: see docs/deploy.md on cost."
  type        = number
  default     = 1073741824
  nullable    = false

  validation {
    condition     = var.max_bytes_per_manifest >= 1
    error_message = "max_bytes_per_manifest must be at least 1."
  }
}

variable "max_batch_wait_seconds" {
  description = "The scheduled flush starts partial batches whose oldest file waited this long (MAX_BATCH_WAIT_SECONDS)."
  type        = number
  default     = 300
  nullable    = false

  validation {
    condition     = var.max_batch_wait_seconds >= 0
    error_message = "max_batch_wait_seconds must be 0 or more."
  }
}

variable "ttl_days" {
  description = "Days before tracking items expire (TTL_DAYS); keep it above the queue retention."
  type        = number
  default     = 30
  nullable    = false

  validation {
    condition     = var.ttl_days >= 1 && var.ttl_days <= 3650
    error_message = "ttl_days must be between 1 and 3650."
  }
}

variable "pending_shards" {
  description = "Shards of the pending-files index (PENDING_SHARDS); raise it above ~2,000 new files per second, only ever increase it."
  type        = number
  default     = 4
  nullable    = false

  validation {
    condition     = var.pending_shards >= 1 && var.pending_shards <= 64
    error_message = "pending_shards must be between 1 and 64."
  }
}

variable "repair_grace_seconds" {
  description = "A claim older than this without a MANIFEST item is repaired by the flush (REPAIR_GRACE_SECONDS); must exceed the Lambda timeout."
  type        = number
  default     = 960
  nullable    = false

  validation {
    condition     = var.repair_grace_seconds >= 60 && var.repair_grace_seconds > var.lambda_timeout_seconds
    error_message = "repair_grace_seconds must be at least 60 and greater than lambda_timeout_seconds."
  }
}

variable "max_manifests_per_invocation" {
  description = "Cap on the batches one invocation starts (MAX_MANIFESTS_PER_INVOCATION)."
  type        = number
  default     = 20
  nullable    = false

  validation {
    condition     = var.max_manifests_per_invocation >= 1
    error_message = "max_manifests_per_invocation must be at least 1."
  }
}

variable "flush_schedule_expression" {
  description = "EventBridge schedule of the flush, e.g. rate(5 minutes) or cron(0/5 * * * ? *)."
  type        = string
  default     = "rate(5 minutes)"
  nullable    = false

  validation {
    condition     = can(regex("^(rate\\((1 (minute|hour|day)|([2-9]|[1-9][0-9]+) (minutes|hours|days))\\)|cron\\(\\S+ \\S+ (\\? \\S+ [^?\\s]\\S*|[^?\\s]\\S* \\S+ \\?) \\S+\\))$", var.flush_schedule_expression))
    error_message = "flush_schedule_expression must be an EventBridge schedule: rate(1 minute|hour|day), rate(N minutes|hours|days) with N > 1, or a 6-field cron(minutes hours day-of-month month day-of-week year) with ? in exactly one of day-of-month and day-of-week, e.g. cron(0/5 * * * ? *)."
  }
}

# -------------------------------------------------------------------------------------------------- glue

variable "table_format" {
  description = "Table format of the output (--TABLE_FORMAT): iceberg (default; one Iceberg commit per manifest through the Glue Data Catalog, readable by Athena, Spark and DuckDB) or parquet (Hive-style dt=D/ folders, the status update registers the Glue table and partitions)."
  type        = string
  default     = "iceberg"
  nullable    = false

  validation {
    condition     = contains(["iceberg", "parquet"], var.table_format)
    error_message = "table_format must be iceberg or parquet."
  }
}

variable "compression_type" {
  description = "Parquet codec of the output (--COMPRESSION_TYPE); one of the job's supported codecs in glue_jobs/codecs.json."
  type        = string
  default     = "zstd"
  nullable    = false

  validation {
    condition     = contains(jsondecode(file("${path.module}/../glue_jobs/codecs.json")).supported, var.compression_type)
    error_message = "compression_type is not a codec the Glue job supports: see the \"supported\" list in glue_jobs/codecs.json (and \"unsupported\" for why the others are refused)."
  }

  # The table is registered in the Glue Data Catalog to be queried with Athena, which cannot read every codec.
  validation {
    condition     = var.allow_codec_athena_cannot_read || lookup(jsondecode(file("${path.module}/../glue_jobs/codecs.json")).athena, var.compression_type, true)
    error_message = "compression_type is a codec Athena cannot read (\"athena\": false in glue_jobs/codecs.json, e.g. brotli), and this table is registered in the Glue Data Catalog for Athena: use zstd (smallest) or snappy (fastest), or set allow_codec_athena_cannot_read = true if only Spark, DuckDB or pyarrow read the table."
  }
}

variable "compression_level" {
  description = "Level of compression_type (--COMPRESSION_LEVEL), within glue_jobs/codecs.json \"levels\" (zstd 1-22, gzip 1-9, brotli 0-11); null: the job's default (zstd 3, gzip 9, brotli 8) and the argument is not passed."
  type        = number
  default     = null

  validation {
    condition = var.compression_level == null || (
      contains(keys(jsondecode(file("${path.module}/../glue_jobs/codecs.json")).levels), var.compression_type) &&
      try(floor(var.compression_level) == var.compression_level, false) &&
      try(var.compression_level >= jsondecode(file("${path.module}/../glue_jobs/codecs.json")).levels[var.compression_type][0], false) &&
      try(var.compression_level <= jsondecode(file("${path.module}/../glue_jobs/codecs.json")).levels[var.compression_type][1], false)
    )
    error_message = "compression_level must be null or a whole number within the range of compression_type in glue_jobs/codecs.json \"levels\" (zstd 1-22, gzip 1-9, brotli 0-11); snappy, lz4 and uncompressed take no level (leave it null)."
  }
}

variable "allow_codec_athena_cannot_read" {
  description = "Accept a compression_type Athena cannot read (brotli): the table is then readable by Spark, DuckDB and pyarrow only. The embedded example sets it (its queries use DuckDB)."
  type        = bool
  default     = false
  nullable    = false
}

variable "max_bad_record_ratio" {
  description = "A batch fails (BadRecordRatioExceeded, nothing published) when more than this share of its lines is bad (--MAX_BAD_RECORD_RATIO)."
  type        = number
  default     = 0.05
  nullable    = false

  validation {
    condition     = var.max_bad_record_ratio >= 0 && var.max_bad_record_ratio <= 1
    error_message = "max_bad_record_ratio must be between 0 and 1."
  }
}

variable "glue_script_path" {
  description = "Path of the Glue job's entry script built by `pipeline build-glue` (default output: dist/glue/run_ndjson_to_parquet.py); uploaded as the job's ScriptLocation."
  type        = string

  validation {
    condition     = fileexists(var.glue_script_path)
    error_message = "glue_script_path does not point to a file: build the Glue artifacts first with `pipeline build-glue --out dist/glue`."
  }
}

variable "glue_package_path" {
  description = "Path of the Glue job's package zip built by `pipeline build-glue` (default output: dist/glue/ndjson_to_parquet.zip); uploaded and passed with --extra-py-files."
  type        = string

  validation {
    condition     = fileexists(var.glue_package_path)
    error_message = "glue_package_path does not point to a file: build the Glue artifacts first with `pipeline build-glue --out dist/glue`."
  }
}

variable "glue_version" {
  description = "Glue version of the job: 5.0 (Spark 3.5.4, Python 3.11, Java 17) or 5.1."
  type        = string
  default     = "5.0"
  nullable    = false

  validation {
    condition     = contains(["5.0", "5.1"], var.glue_version)
    error_message = "glue_version must be 5.0 or 5.1 (Spark 3.5, which the job is tested with)."
  }
}

variable "glue_worker_type" {
  description = "Glue worker type (G.1X: 4 vCPU, 16 GB, 1 DPU)."
  type        = string
  default     = "G.1X"
  nullable    = false

  validation {
    condition     = contains(["G.1X", "G.2X", "G.4X", "G.8X"], var.glue_worker_type)
    error_message = "glue_worker_type must be G.1X, G.2X, G.4X or G.8X."
  }
}

variable "glue_execution_class" {
  description = "Glue execution class: STANDARD (dedicated capacity, fast start) or FLEX (spare capacity, 0.29 instead of 0.44 USD per DPU-hour in us-east-1; G.1X or G.2X workers and Glue 3.0+ only, no guaranteed start time, and a run can take longer; docs/deploy.md)."
  type        = string
  default     = "STANDARD"
  nullable    = false

  validation {
    condition     = contains(["STANDARD", "FLEX"], var.glue_execution_class)
    error_message = "glue_execution_class must be STANDARD or FLEX."
  }

  validation {
    condition     = var.glue_execution_class != "FLEX" || contains(["G.1X", "G.2X"], var.glue_worker_type)
    error_message = "glue_execution_class = FLEX runs only on G.1X or G.2X workers: set glue_worker_type to one of them or use STANDARD."
  }
}

variable "glue_number_of_workers" {
  description = "Workers per Glue run (minimum 2). Cost: workers x DPU per worker x minutes."
  type        = number
  default     = 2
  nullable    = false

  validation {
    condition     = var.glue_number_of_workers >= 2
    error_message = "glue_number_of_workers must be at least 2."
  }
}

variable "glue_timeout_minutes" {
  description = "Timeout of one Glue run."
  type        = number
  default     = 60
  nullable    = false

  validation {
    condition     = var.glue_timeout_minutes >= 1 && var.glue_timeout_minutes <= 2880
    error_message = "glue_timeout_minutes must be between 1 and 2880."
  }
}

variable "glue_additional_python_modules" {
  description = "Passed to the job as --additional-python-modules: exact pins of what the tests run (pyarrow writes the files inside the tasks, orjson speeds up the bad-line fallback, pyiceberg commits the Iceberg table through the Glue catalog). Accounts without PyPI egress point this at wheels in S3 (docs/deploy.md). Empty to use only what the Glue image provides (table_format = \"parquet\" only)."
  type        = string
  default     = "pyarrow==26.0.1,orjson==3.13.0,pyiceberg[glue]==0.12.0"
  nullable    = false

  validation {
    condition     = var.table_format != "iceberg" || strcontains(var.glue_additional_python_modules, "pyiceberg")
    error_message = "glue_additional_python_modules must include pyiceberg (e.g. pyiceberg[glue]==0.12.0, or a pyiceberg wheel in S3) when table_format is iceberg: the Glue image has no pyiceberg."
  }
}

variable "glue_wheel_bundle_dir" {
  description = "For accounts whose Glue jobs cannot reach PyPI: a local folder of .whl files (the pinned modules and all their dependencies for manylinux x86_64 CPython 3.11, built as docs/deploy.md shows). Terraform uploads each wheel to s3://<artifacts>/glue/wheels/ and the job installs exactly those with pip --no-index instead of glue_additional_python_modules. null: install glue_additional_python_modules from PyPI."
  type        = string
  default     = null

  validation {
    condition     = var.glue_wheel_bundle_dir == null || length(fileset(coalesce(var.glue_wheel_bundle_dir, "."), "*.whl")) > 0
    error_message = "glue_wheel_bundle_dir holds no .whl file: build the bundle first (docs/deploy.md: pip download ... -d <dir>)."
  }

  validation {
    condition     = var.glue_wheel_bundle_dir == null || var.table_format != "iceberg" || length(fileset(coalesce(var.glue_wheel_bundle_dir, "."), "pyiceberg-*.whl")) > 0
    error_message = "glue_wheel_bundle_dir has no pyiceberg wheel, which table_format = \"iceberg\" needs (the Glue image has none)."
  }
}

variable "glue_max_concurrent_runs" {
  description = "Concurrent runs of the Glue job; beyond it the state machine retries the start with backoff. The default covers the busiest hour of ~340,000 files a day at the default batching (peak ~6 runs, docs/scaling.md); raise it with the volume, within the account's Glue quota on concurrent job runs."
  type        = number
  default     = 10
  nullable    = false

  validation {
    condition     = var.glue_max_concurrent_runs >= 1
    error_message = "glue_max_concurrent_runs must be at least 1."
  }
}

variable "maintenance_schedule_expression" {
  description = "EventBridge Scheduler schedule of the Iceberg table maintenance (a Glue run of the job with --MODE maintain: compaction, snapshot expiry, orphan removal), e.g. rate(1 day) or cron(0 3 * * ? *); \"\" disables it. Only with table_format = \"iceberg\"."
  type        = string
  default     = "rate(1 day)"
  nullable    = false

  validation {
    condition     = var.maintenance_schedule_expression == "" || can(regex("^(rate\\((1 (minute|hour|day)|([2-9]|[1-9][0-9]+) (minutes|hours|days))\\)|cron\\(\\S+ \\S+ (\\? \\S+ [^?\\s]\\S*|[^?\\s]\\S* \\S+ \\?) \\S+\\))$", var.maintenance_schedule_expression))
    error_message = "maintenance_schedule_expression must be an EventBridge Scheduler schedule: rate(1 minute|hour|day), rate(N minutes|hours|days) with N > 1, or a 6-field cron(minutes hours day-of-month month day-of-week year) with ? in exactly one of day-of-month and day-of-week, e.g. cron(0 3 * * ? *); or \"\" (no maintenance schedule)."
  }
}

variable "snapshot_retention_hours" {
  description = "Maintenance expires Iceberg snapshots older than this (--SNAPSHOT_RETENTION_HOURS): the time-travel window, and how long a snapshot's manifest id stays visible to the commit check."
  type        = number
  default     = 168
  nullable    = false

  validation {
    condition     = var.snapshot_retention_hours >= 1 && var.snapshot_retention_hours <= 100000 && floor(var.snapshot_retention_hours) == var.snapshot_retention_hours
    error_message = "snapshot_retention_hours must be a whole number of hours from 1 to 100000."
  }
}

variable "orphan_age_hours" {
  description = "Maintenance removes files under the table location that no snapshot references and that are older than this (--ORPHAN_AGE_HOURS); it must exceed the longest Glue run, whose files are uncommitted until it ends."
  type        = number
  default     = 72
  nullable    = false

  validation {
    condition     = var.orphan_age_hours >= 1 && var.orphan_age_hours <= 100000 && floor(var.orphan_age_hours) == var.orphan_age_hours && var.orphan_age_hours * 60 > var.glue_timeout_minutes
    error_message = "orphan_age_hours must be a whole number of hours from 1 to 100000 and longer than glue_timeout_minutes (a running job's files are not orphans)."
  }
}

# ----------------------------------------------------------------------------------------- step functions

variable "glue_retry_interval_seconds" {
  description = "First wait before the state machine retries a Glue start refused for concurrency, throttling or an internal error (doubles each attempt)."
  type        = number
  default     = 60
  nullable    = false

  validation {
    condition     = var.glue_retry_interval_seconds >= 1
    error_message = "glue_retry_interval_seconds must be at least 1."
  }
}

variable "glue_retry_max_attempts" {
  description = "Retries of a refused Glue start."
  type        = number
  default     = 6
  nullable    = false

  validation {
    condition     = var.glue_retry_max_attempts >= 0 && var.glue_retry_max_attempts <= 99999999
    error_message = "glue_retry_max_attempts must be 0 or more."
  }
}

variable "glue_retry_max_delay_seconds" {
  description = "Cap on the wait between Glue retries."
  type        = number
  default     = 900
  nullable    = false

  validation {
    condition     = var.glue_retry_max_delay_seconds >= var.glue_retry_interval_seconds
    error_message = "glue_retry_max_delay_seconds must be at least glue_retry_interval_seconds."
  }
}

variable "retry_interval_seconds" {
  description = "First wait before the state machine retries a transient DynamoDB, S3, Lambda or SNS error (doubles each attempt)."
  type        = number
  default     = 2
  nullable    = false

  validation {
    condition     = var.retry_interval_seconds >= 1
    error_message = "retry_interval_seconds must be at least 1."
  }
}

variable "state_machine_log_level" {
  description = "Execution history logged to CloudWatch: ALL, ERROR or FATAL (ERROR is needed for the Glue failure alarm)."
  type        = string
  default     = "ERROR"
  nullable    = false

  validation {
    condition     = contains(["ALL", "ERROR"], var.state_machine_log_level)
    error_message = "state_machine_log_level must be ALL or ERROR (the Glue failure alarm counts logged task failures)."
  }
}

# ------------------------------------------------------------------------------------------- monitoring

variable "alert_email" {
  description = "Email address subscribed to the alert topic (null: none; subscribe your own endpoints to the topic output)."
  type        = string
  default     = null
}

variable "oldest_message_age_alarm_seconds" {
  description = "Alarm when the oldest ingest message is older than this."
  type        = number
  default     = 900
  nullable    = false
}

variable "freshness_objective_minutes" {
  description = "Freshness objective: a landed file is queryable (its batch completed) within this many minutes (the freshness alarm, OldestPendingAgeSeconds); keep it above max_batch_wait_seconds and the flush interval."
  type        = number
  default     = 15
  nullable    = false

  validation {
    condition     = var.freshness_objective_minutes >= 5 && var.freshness_objective_minutes <= 1440 && floor(var.freshness_objective_minutes) == var.freshness_objective_minutes
    error_message = "freshness_objective_minutes must be a whole number of minutes from 5 to 1440."
  }
}

variable "bad_record_ratio_alarm_threshold" {
  description = "The bad-record ratio alarm fires when more than this share of an hour's records was quarantined."
  type        = number
  default     = 0.01
  nullable    = false

  validation {
    condition     = var.bad_record_ratio_alarm_threshold > 0 && var.bad_record_ratio_alarm_threshold < 1
    error_message = "bad_record_ratio_alarm_threshold must be between 0 and 1 (exclusive)."
  }
}
