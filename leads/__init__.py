"""Tools for support leads: conversation transcripts (export, redaction) and the review queue."""
