# Layout and indexes: docs/tracking-table.md (the contract with the manifest builder, pipeline/control_plane/adapters/tracking.py).
resource "aws_dynamodb_table" "this" {
  name                        = var.table_name
  billing_mode                = "PAY_PER_REQUEST"
  hash_key                    = "date_prefix"
  range_key                   = "file_key"
  deletion_protection_enabled = var.deletion_protection

  attribute {
    name = "date_prefix"
    type = "S"
  }
  attribute {
    name = "file_key"
    type = "S"
  }
  attribute {
    name = "pending_shard"
    type = "S"
  }
  attribute {
    name = "pending_key"
    type = "S"
  }
  attribute {
    name = "manifest_id"
    type = "S"
  }
  attribute {
    name = "claim_open"
    type = "S"
  }
  attribute {
    name = "claimed_at"
    type = "S"
  }
  attribute {
    name = "manifest_open"
    type = "S"
  }
  attribute {
    name = "open_since"
    type = "S"
  }

  # Sparse: only files whose status is pending carry pending_shard / pending_key.
  global_secondary_index {
    name               = "pending-index"
    hash_key           = "pending_shard"
    range_key          = "pending_key"
    projection_type    = "INCLUDE"
    non_key_attributes = ["bucket", "key", "size", "etag", "created_at"]
  }
  # Every item carrying a manifest_id: the status update touches only its manifest's files.
  global_secondary_index {
    name               = "manifest-index"
    hash_key           = "manifest_id"
    range_key          = "file_key"
    projection_type    = "INCLUDE"
    non_key_attributes = ["status", "created_at", "size"]
  }
  # Sparse: claims not yet recorded or rolled back, for the flush's crash repair.
  global_secondary_index {
    name               = "open-claims-index"
    hash_key           = "claim_open"
    range_key          = "claimed_at"
    projection_type    = "INCLUDE"
    non_key_attributes = ["manifest_id"]
  }
  # Sparse: MANIFEST items started and not completed (failed included), by their oldest file's created_at: the
  # freshness metric reads the first one.
  global_secondary_index {
    name               = "open-manifests-index"
    hash_key           = "manifest_open"
    range_key          = "open_since"
    projection_type    = "INCLUDE"
    non_key_attributes = ["manifest_id", "status"]
  }

  ttl {
    attribute_name = "ttl"
    enabled        = true
  }

  server_side_encryption {
    enabled     = true
    kms_key_arn = var.kms_key_arn
  }

  point_in_time_recovery {
    enabled = var.point_in_time_recovery
  }

  tags = var.tags
}
