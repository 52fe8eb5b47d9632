# Shared fixtures (an S3 server on loopback, a fresh bucket, a Dagster test instance).
pytest_plugins = ["lake.testing"]
