"""The run launcher dagster.yaml names (every image that loads the instance imports it)."""
