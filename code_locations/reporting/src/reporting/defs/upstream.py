from lake.keys import DAILY_SUMMARY, MONTHLY_SUMMARY, upstream_spec

daily_summary = upstream_spec(DAILY_SUMMARY, owner="transforms")
monthly_summary = upstream_spec(MONTHLY_SUMMARY, owner="transforms")
