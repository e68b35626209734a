"""Channels and the FastAPI gateway that hosts them."""
