class Job:  # the maintain mode never builds one
    def __init__(self, glue_context: object) -> None:
        raise AssertionError("Job is not part of this fake")
