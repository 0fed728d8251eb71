"""Where points land: the store (the InsightStore Protocol; SQLite), the writer task, NDJSON encoding, files and rotation."""
