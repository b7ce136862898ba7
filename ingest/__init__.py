"""Reading and extraction: inputs (local, http(s), s3, crawl names), WARC records, HTTP payloads
and their decoding, the page's genre, and the main text (the accelerated trafilatura, forum
threads), as stages over Arrow batches. A middle-layer package: it imports only `core`.
"""
