"""What a request yields: points (records) and the outcome of one planned request. Knows no I/O."""
