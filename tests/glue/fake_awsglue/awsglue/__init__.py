"""A fake of AWS Glue's `awsglue` Python layer at its port (the real one needs Glue's JVM classes): only the
argument semantics the entry script relies on, as aws-glue-libs (branch glue-5.0) implements them."""
