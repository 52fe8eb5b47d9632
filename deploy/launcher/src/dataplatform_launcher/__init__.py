"""The run launcher and storage dagster.yaml names (every image that loads the instance imports them)."""
