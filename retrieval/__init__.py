"""Knowledge base: ingest → normalise → embed → index (FAISS) → search.

Three layers (CONVENTIONS 9): an encoder turns text into unit float32 vectors; an index stores
vectors by integer id and never sees text; a store maps ids to KB records.
"""
