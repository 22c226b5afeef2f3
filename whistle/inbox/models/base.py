"""The declarative base every inbox model shares (the schema itself comes from Alembic)."""

from sqlalchemy.orm import DeclarativeBase


class Base(DeclarativeBase):
    pass
