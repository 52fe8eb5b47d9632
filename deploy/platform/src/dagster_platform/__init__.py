"""What the webserver and the daemon load besides Dagster itself (dagster.yaml names it)."""
