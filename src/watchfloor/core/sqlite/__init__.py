"""The embedded SQLite backend: Django's, with a fair wait for the write lock (``base``)."""
