"""Sinks are format x destination: the NDJSON encoder and the append-only file.

The SQLite store lives in :mod:`collector.store` and the single writer that
commits both in step lives in :mod:`collector.writer`.
"""

from collector.sinks.files import AppendFile, file_size, is_gzip_path
from collector.sinks.ndjson import decode_line, encode_point, encode_points

__all__ = [
    "AppendFile",
    "decode_line",
    "encode_point",
    "encode_points",
    "file_size",
    "is_gzip_path",
]
