"""Where points land: the store (SQLite; the Store Protocol), the writer task, NDJSON encoding, files and rotation."""
