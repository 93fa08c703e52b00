"""Retrieval: passages, embeddings, the vector and lexical indexes, hybrid search and quoting."""
