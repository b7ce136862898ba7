"""crawlsieve: WARC files in, a filtered, deduplicated, domain-tagged Parquet dataset out, on Ray."""

__version__ = "0.1.0"
