variable "name_prefix" {
  description = "Prefix of the job, role, security configuration and database names."
  type        = string


  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,22}[a-z0-9]$", var.name_prefix))
    error_message = "name_prefix must be 3-24 characters of lowercase letters, digits and hyphens, starting with a letter and not ending with a hyphen."
  }
}

variable "kms_key_arn" {
  description = "KMS key of the security configuration (S3, CloudWatch logs, job bookmarks) and of the buckets."
  type        = string


  validation {
    condition     = can(regex("^arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:key/[A-Za-z0-9-]+$", var.kms_key_arn))
    error_message = "kms_key_arn must be a KMS key ARN (arn:aws:kms:<region>:<account>:key/<id>), not an alias."
  }
}

variable "script_path" {
  description = "Local path of the job's entry script (built by `pipeline build-glue`: dist/glue/run_ndjson_to_parquet.py), uploaded as the ScriptLocation."
  type        = string


  validation {
    condition     = fileexists(var.script_path)
    error_message = "script_path does not point to a file."
  }
}

variable "package_path" {
  description = "Local path of the job package zip (built by `pipeline build-glue`: dist/glue/ndjson_to_parquet.zip), uploaded and passed with --extra-py-files."
  type        = string

  validation {
    condition     = fileexists(var.package_path)
    error_message = "package_path does not point to a file."
  }
}

variable "artifacts_bucket" {
  description = "Bucket that holds the job script and its package."
  type        = string


  validation {
    condition     = can(regex("^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", var.artifacts_bucket))
    error_message = "artifacts_bucket must be an S3 bucket name (3-63 lowercase letters, digits, dots and hyphens)."
  }
}

variable "artifacts_bucket_arn" {
  description = "ARN of the artifacts bucket."
  type        = string


  validation {
    condition     = can(regex("^arn:aws[a-z-]*:s3:::[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", var.artifacts_bucket_arn))
    error_message = "artifacts_bucket_arn must be an S3 bucket ARN (arn:aws:s3:::<bucket>)."
  }
}

variable "input_bucket_arn" {
  description = "ARN of the input bucket (the job reads the NDJSON files)."
  type        = string


  validation {
    condition     = can(regex("^arn:aws[a-z-]*:s3:::[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", var.input_bucket_arn))
    error_message = "input_bucket_arn must be an S3 bucket ARN (arn:aws:s3:::<bucket>)."
  }
}

variable "manifest_bucket_arn" {
  description = "ARN of the manifest bucket (the job reads its manifest)."
  type        = string


  validation {
    condition     = can(regex("^arn:aws[a-z-]*:s3:::[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", var.manifest_bucket_arn))
    error_message = "manifest_bucket_arn must be an S3 bucket ARN (arn:aws:s3:::<bucket>)."
  }
}

variable "manifest_prefix" {
  description = "Key prefix of the manifests."
  type        = string


  validation {
    condition     = can(regex("^([A-Za-z0-9!_.*'()=-]+/)+$", var.manifest_prefix))
    error_message = "manifest_prefix must be an S3 key prefix ending with /, e.g. lake/events/."
  }
}

variable "output_bucket" {
  description = "Bucket of the Parquet output and the quarantine."
  type        = string


  validation {
    condition     = can(regex("^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", var.output_bucket))
    error_message = "output_bucket must be an S3 bucket name (3-63 lowercase letters, digits, dots and hyphens)."
  }
}

variable "output_bucket_arn" {
  description = "ARN of the output bucket."
  type        = string


  validation {
    condition     = can(regex("^arn:aws[a-z-]*:s3:::[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", var.output_bucket_arn))
    error_message = "output_bucket_arn must be an S3 bucket ARN (arn:aws:s3:::<bucket>)."
  }
}

variable "output_prefix" {
  description = "Key prefix of the Parquet table in the output bucket (ends with /)."
  type        = string


  validation {
    condition     = can(regex("^([A-Za-z0-9!_.*'()=-]+/)+$", var.output_prefix))
    error_message = "output_prefix must be an S3 key prefix ending with /, e.g. lake/events/."
  }
}

variable "quarantine_prefix" {
  description = "Key prefix of quarantined records in the output bucket (ends with /)."
  type        = string


  validation {
    condition     = can(regex("^([A-Za-z0-9!_.*'()=-]+/)+$", var.quarantine_prefix))
    error_message = "quarantine_prefix must be an S3 key prefix ending with /, e.g. lake/events/."
  }
}

variable "compression_type" {
  description = "Parquet codec, validated by the root module against glue_jobs/codecs.json."
  type        = string


  validation {
    condition     = contains(try(jsondecode(file("${path.module}/../../../glue_jobs/codecs.json")).supported, []), var.compression_type)
    error_message = "compression_type must be one of the \"supported\" codecs in glue_jobs/codecs.json."
  }
}

variable "compression_level" {
  description = "Level of compression_type (--COMPRESSION_LEVEL), validated by the root module against glue_jobs/codecs.json; null: not passed (the job's default)."
  type        = number
  default     = null

  validation {
    # The per-codec range is the root module's check (codecs.json); here: a whole number in the widest range any
    # codec has (zstd 1-22, gzip 1-9, brotli 0-11).
    condition     = var.compression_level == null ? true : (floor(var.compression_level) == var.compression_level && var.compression_level >= 0 && var.compression_level <= 22)
    error_message = "compression_level must be null or a whole number from 0 to 22 (the codec's own range is checked by the root module)."
  }
}

variable "max_bad_record_ratio" {
  description = "Share of bad lines above which a batch fails without publishing (--MAX_BAD_RECORD_RATIO)."
  type        = number

  validation {
    condition     = var.max_bad_record_ratio >= 0 && var.max_bad_record_ratio <= 1
    error_message = "max_bad_record_ratio must be between 0 and 1."
  }
}

variable "metrics_namespace" {
  description = "CloudWatch namespace of the run's EMF metrics line (--METRICS_NAMESPACE); null: no line."
  type        = string
  default     = null

  validation {
    condition     = var.metrics_namespace == null || can(regex("^[A-Za-z0-9._/#:-]{1,255}$", var.metrics_namespace))
    error_message = "metrics_namespace must be 1-255 characters of letters, digits and . _ / # : -"
  }
}

variable "table_format" {
  description = "Table format the job writes (--TABLE_FORMAT): iceberg (one Iceberg commit per manifest) or parquet (Hive-style dt=D/ folders)."
  type        = string
  default     = "iceberg"

  validation {
    condition     = contains(["iceberg", "parquet"], var.table_format)
    error_message = "table_format must be iceberg or parquet."
  }
}

variable "catalog_table" {
  description = "Name of the output table in the module's Glue database (--CATALOG_TABLE); the job's role may change only this table."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9_]{0,63}$", var.catalog_table))
    error_message = "catalog_table must be lowercase letters, digits and underscores, starting with a letter."
  }
}

variable "glue_version" {
  description = "Glue version (5.0: Spark 3.5, Python 3.11, Java 17)."
  type        = string
  default     = "5.0"


  validation {
    condition     = contains(["5.0", "5.1"], var.glue_version)
    error_message = "glue_version must be one of 5.0 or 5.1."
  }
}

variable "worker_type" {
  description = "Glue worker type."
  type        = string
  default     = "G.1X"


  validation {
    condition     = contains(["G.1X", "G.2X", "G.4X", "G.8X"], var.worker_type)
    error_message = "worker_type must be one of G.1X, G.2X, G.4X or G.8X."
  }
}

variable "execution_class" {
  description = "STANDARD or FLEX (FLEX: G.1X or G.2X workers, Glue 3.0+, no guaranteed start time)."
  type        = string
  default     = "STANDARD"

  validation {
    condition     = contains(["STANDARD", "FLEX"], var.execution_class)
    error_message = "execution_class must be STANDARD or FLEX."
  }

  validation {
    condition     = var.execution_class != "FLEX" || contains(["G.1X", "G.2X"], var.worker_type)
    error_message = "execution_class FLEX runs only on G.1X or G.2X workers."
  }
}

variable "number_of_workers" {
  description = "Workers per run (2 is the minimum for G.1X)."
  type        = number
  default     = 2


  validation {
    condition     = var.number_of_workers >= 2 && floor(var.number_of_workers) == var.number_of_workers
    error_message = "number_of_workers must be a whole number of at least 2."
  }
}

variable "timeout_minutes" {
  description = "Job run timeout in minutes."
  type        = number
  default     = 60


  validation {
    condition     = var.timeout_minutes >= 1 && var.timeout_minutes <= 2880 && floor(var.timeout_minutes) == var.timeout_minutes
    error_message = "timeout_minutes must be a whole number between 1 and 2880."
  }
}

variable "additional_python_modules" {
  description = "Value of --additional-python-modules (pip requirements, comma-separated); empty to omit the argument."
  type        = string
  default     = ""


  validation {
    condition     = !can(regex("\\s", var.additional_python_modules))
    error_message = "additional_python_modules must be comma-separated pip requirements without spaces, e.g. pyarrow>=16,orjson>=3.9, or empty."
  }
}

variable "wheel_bundle_dir" {
  description = "Local folder of .whl files uploaded to s3://<artifacts_bucket>/glue/wheels/ and installed with pip --no-index instead of additional_python_modules; null: additional_python_modules from PyPI."
  type        = string
  default     = null

  validation {
    condition     = var.wheel_bundle_dir == null || length(fileset(coalesce(var.wheel_bundle_dir, "."), "*.whl")) > 0
    error_message = "wheel_bundle_dir holds no .whl file."
  }
}

variable "log_retention_days" {
  description = "Retention of the job's CloudWatch log groups (<prefix>/error and <prefix>/output)."
  type        = number
  default     = 90

  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.log_retention_days)
    error_message = "log_retention_days must be one of the values CloudWatch Logs accepts."
  }
}

variable "max_concurrent_runs" {
  description = "Concurrent runs of the job; a start beyond it fails with ConcurrentRunsExceededException, which the state machine retries."
  type        = number
  default     = 5


  validation {
    condition     = var.max_concurrent_runs >= 1 && floor(var.max_concurrent_runs) == var.max_concurrent_runs
    error_message = "max_concurrent_runs must be a whole number of at least 1 (within the account's Glue quota)."
  }
}

variable "extra_default_arguments" {
  description = "Extra default arguments of the job (merged over the built-in ones)."
  type        = map(string)
  default     = {}


  validation {
    condition     = alltrue([for k in keys(var.extra_default_arguments) : can(regex("^--[A-Za-z0-9_-]+$", k))])
    error_message = "extra_default_arguments keys must be job arguments starting with --, e.g. --enable-metrics."
  }
}

variable "tags" {
  description = "Tags of the module's resources (merged with the provider's default_tags)."
  type        = map(string)
  default     = {}


  validation {
    condition     = alltrue([for k, value in var.tags : length(k) >= 1 && length(k) <= 128 && length(value) <= 256 && !startswith(lower(k), "aws:")])
    error_message = "tags keys must be 1-128 characters and not start with aws:, values at most 256 characters."
  }
}
