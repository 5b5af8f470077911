"""The SQLAlchemy models and the migrated database agree: columns, indexes, constraints."""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import CheckConstraint, ForeignKeyConstraint, Index, UniqueConstraint, inspect
from sqlalchemy.dialects import postgresql
from sqlalchemy.sql.elements import TextClause, UnaryExpression

from glyphic_desktop.store.database import Database
from glyphic_desktop.store.models import ALL_MODELS, Base

DIALECT = postgresql.dialect()


def _type(sa_type: Any) -> str:
    return sa_type.compile(dialect=DIALECT)


def _strip_parens(sql: str | None) -> str | None:
    if sql is None:
        return None
    sql = sql.strip()
    while sql.startswith("(") and sql.endswith(")"):
        sql = sql[1:-1].strip()
    return re.sub(r"\s+", " ", sql)


def _model_default(column: Any) -> str | None:
    default = column.server_default
    if default is None or column.identity is not None:
        return None
    return str(default.arg.text)


def _model_index(index: Index) -> dict[str, Any]:
    columns: list[str] = []
    sorting: dict[str, tuple[str, ...]] = {}
    for expr in index.expressions:
        if isinstance(expr, UnaryExpression):
            inner = expr.element
            # desc("col") in __table_args__ is a textual reference whose .element is the name.
            name = inner.name if hasattr(inner, "table") else str(inner.element)
            sorting[name] = ("desc",)
        elif isinstance(expr, TextClause):  # an expression index
            name = expr.text
        else:
            name = expr.name
        columns.append(name)
    where = index.dialect_options["postgresql"].get("where")
    return {
        "columns": columns,
        "unique": bool(index.unique),
        "sorting": sorting,
        "using": index.dialect_options["postgresql"].get("using") or None,
        "ops": dict(index.dialect_options["postgresql"].get("ops") or {}),
        "with": {
            k: str(v) for k, v in (index.dialect_options["postgresql"].get("with") or {}).items()
        },
        "where": _strip_parens(str(where.text) if where is not None else None),
    }


def _db_index(info: dict[str, Any]) -> dict[str, Any]:
    options = info.get("dialect_options", {})
    return {
        # An expression's column name is None; its text is in "expressions".
        "columns": [
            column or expression
            for column, expression in zip(
                info["column_names"],
                info.get("expressions") or info["column_names"],
                strict=True,
            )
        ],
        "unique": bool(info["unique"]),
        "sorting": dict(info.get("column_sorting", {})),
        "using": options.get("postgresql_using"),
        "ops": dict(options.get("postgresql_ops") or {}),
        "with": {k: str(v) for k, v in (options.get("postgresql_with") or {}).items()},
        "where": _strip_parens(options.get("postgresql_where")),
    }


def _differences(db: Database) -> list[str]:
    inspector = inspect(db.engine)
    problems: list[str] = []
    model_tables = {model.__tablename__: model.__table__ for model in ALL_MODELS}
    db_tables = set(inspector.get_table_names())
    for name in sorted(db_tables - set(model_tables)):
        problems.append(f"table {name}: in the database, no model")
    for name in sorted(set(model_tables) - db_tables):
        problems.append(f"table {name}: has a model, not in the database")

    for name, table in sorted(model_tables.items()):
        if name not in db_tables:
            continue
        # Columns, in order.
        db_columns = {c["name"]: c for c in inspector.get_columns(name)}
        for missing in sorted(set(db_columns) - set(table.columns.keys())):
            problems.append(f"{name}.{missing}: in the database, not in the model")
        for column in table.columns:
            where = f"{name}.{column.name}"
            info = db_columns.get(column.name)
            if info is None:
                problems.append(f"{where}: in the model, not in the database")
                continue
            if _type(column.type) != _type(info["type"]):
                problems.append(
                    f"{where}: type {_type(column.type)} in the model, "
                    f"{_type(info['type'])} in the database"
                )
            if column.nullable != info["nullable"]:
                problems.append(
                    f"{where}: nullable={column.nullable} in the model, "
                    f"{info['nullable']} in the database"
                )
            if _model_default(column) != info["default"]:
                problems.append(
                    f"{where}: server default {_model_default(column)!r} in the model, "
                    f"{info['default']!r} in the database"
                )
            if (column.identity is not None) != (info.get("identity") is not None):
                problems.append(f"{where}: identity differs between model and database")
        if [c.name for c in table.columns] != [c["name"] for c in inspector.get_columns(name)]:
            problems.append(f"{name}: column order differs between model and database")

        # Primary key.
        pk = inspector.get_pk_constraint(name)["constrained_columns"]
        if pk != [c.name for c in table.primary_key.columns]:
            problems.append(f"{name}: primary key {pk} in the database differs from the model")

        # Indexes (those backing a unique constraint are compared as constraints).
        db_indexes = {
            i["name"]: _db_index(i)
            for i in inspector.get_indexes(name)
            if not i.get("duplicates_constraint")
        }
        model_indexes = {i.name: _model_index(i) for i in table.indexes}
        for index_name in sorted(set(db_indexes) | set(model_indexes)):
            ours, theirs = model_indexes.get(index_name), db_indexes.get(index_name)
            if ours is None:
                problems.append(f"{name}: index {index_name} in the database, not in the model")
            elif theirs is None:
                problems.append(f"{name}: index {index_name} in the model, not in the database")
            elif ours != theirs:
                problems.append(
                    f"{name}: index {index_name} is {ours} in the model, {theirs} in the database"
                )

        # Unique constraints.
        db_uniques = {
            u["name"]: list(u["column_names"]) for u in inspector.get_unique_constraints(name)
        }
        model_uniques = {
            str(c.name): [col.name for col in c.columns]
            for c in table.constraints
            if isinstance(c, UniqueConstraint)
        }
        if db_uniques != model_uniques:
            problems.append(
                f"{name}: unique constraints {model_uniques} in the model, "
                f"{db_uniques} in the database"
            )

        # Foreign keys.
        db_fks = sorted(
            (
                tuple(fk["constrained_columns"]),
                fk["referred_table"],
                tuple(fk["referred_columns"]),
                fk["options"].get("ondelete"),
            )
            for fk in inspector.get_foreign_keys(name)
        )
        model_fks = sorted(
            (
                tuple(c.name for c in fk.columns),
                fk.referred_table.name,
                tuple(e.column.name for e in fk.elements),
                fk.ondelete,
            )
            for fk in table.constraints
            if isinstance(fk, ForeignKeyConstraint)
        )
        if db_fks != model_fks:
            problems.append(
                f"{name}: foreign keys {model_fks} in the model, {db_fks} in the database"
            )

        # Check constraints (by name).
        db_checks = sorted(c["name"] for c in inspector.get_check_constraints(name))
        model_checks = sorted(
            str(c.name) for c in table.constraints if isinstance(c, CheckConstraint)
        )
        if db_checks != model_checks:
            problems.append(
                f"{name}: check constraints {model_checks} in the model, "
                f"{db_checks} in the database"
            )
    return problems


def test_models_match_the_migrated_database(db: Database) -> None:
    problems = _differences(db)
    assert not problems, "models and schema differ:\n" + "\n".join(problems)


def test_every_seed_table_has_a_model() -> None:
    expected = {
        "users",
        "workflows",
        "workflow_versions",
        "executions",
        "execution_logs",
        "integrations",
        "webhooks",
        "schedules",
        "files",
        "schema_migrations",
        "run_processes",  # addition (0007)
    }
    assert set(Base.metadata.tables) >= expected


def test_the_comparison_reports_a_difference(db: Database) -> None:
    """The checker itself finds a drift: a column added behind the models' back."""
    with db.engine.begin() as conn:
        conn.exec_driver_sql("ALTER TABLE users ADD COLUMN nickname TEXT")
        conn.exec_driver_sql("CREATE INDEX idx_users_name ON users (name)")
        conn.exec_driver_sql("ALTER TABLE webhooks ALTER COLUMN method SET DEFAULT 'GET'")
    problems = _differences(db)
    assert "users.nickname: in the database, not in the model" in problems
    assert "users: index idx_users_name in the database, not in the model" in problems
    assert any(p.startswith("webhooks.method: server default") for p in problems)
