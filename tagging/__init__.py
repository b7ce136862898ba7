"""Tagging stages of finalize: each kept document's site, content domain and token count."""
