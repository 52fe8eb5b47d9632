from lake.keys import RAW_EVENTS, upstream_spec

raw_events = upstream_spec(RAW_EVENTS, owner="ingest")
