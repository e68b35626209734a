"""cskh: a Vietnamese-first customer-service assistant (Rasa dialogue, FAISS knowledge base)."""
