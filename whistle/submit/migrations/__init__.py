"""Alembic migrations of the submission server's database."""
