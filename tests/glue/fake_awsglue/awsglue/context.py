class GlueContext:  # the maintain mode never builds one
    def __init__(self, spark_context: object) -> None:
        raise AssertionError("GlueContext is not part of this fake")
