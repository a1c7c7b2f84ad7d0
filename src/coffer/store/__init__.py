"""SQLAlchemy Core implementation of core's Store port (SQLite and PostgreSQL), migrations, blobs."""
