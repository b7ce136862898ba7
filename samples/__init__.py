"""Sample WARC files the project writes itself (the demo's input, test fixtures, benchmark inputs)."""
