"""``ig-collector export``: the store's points as CSV, Parquet or NDJSON, long or wide."""
