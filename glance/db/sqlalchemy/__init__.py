"""SQLAlchemy models, the query functions and the alembic migrations."""
