"""Catalog on SQL: items with their sizes and per-size stock."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.engine import Engine

from fitloop.data import Item, Variant
from fitloop.errors import NotFound
from fitloop.store.sql import schema
from fitloop.store.sql._util import begin, chunks, connect, upsert

__all__ = ["SqlCatalogStore"]

_I, _V = schema.items, schema.variants
_ITEM_COLS = ["title", "category", "article_type", "price", "colour", "pattern", "material", "style", "occasion",
              "eco", "seasons", "product_code", "description", "created_at", "attributes", "updated_at"]


def _item_row(it: Item, now: datetime) -> dict[str, Any]:
    return {
        "item_id": it.item_id, "title": it.title, "category": it.category, "article_type": it.article_type,
        "price": float(it.price), "colour": it.colour, "pattern": it.pattern, "material": it.material,
        "style": it.style, "occasion": it.occasion, "eco": bool(it.eco), "seasons": list(it.seasons),
        "product_code": it.product_code, "description": it.description, "created_at": it.created_at,
        "attributes": dict(it.attributes), "updated_at": now,
    }


def _item(r: Any, variants: Sequence[Variant]) -> Item:
    return Item(
        item_id=r.item_id, title=r.title, category=r.category, article_type=r.article_type, price=r.price,
        colour=r.colour, pattern=r.pattern, material=r.material, style=r.style, occasion=r.occasion, eco=r.eco,
        seasons=tuple(r.seasons or ()), product_code=r.product_code, description=r.description,
        created_at=r.created_at, variants=tuple(variants), attributes=r.attributes or {},
    )


class SqlCatalogStore:
    """:class:`~fitloop.store.protocols.CatalogStore` on SQLite or PostgreSQL."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._dialect = engine.dialect.name

    def upsert_items(self, items: Sequence[Item]) -> None:
        if not items:
            return
        now = datetime.now(UTC)
        with begin(self._engine) as conn:
            for part in chunks(items, 1000):
                conn.execute(upsert(_I, self._dialect, ["item_id"], _ITEM_COLS), [_item_row(it, now) for it in part])
                ids = [it.item_id for it in part]
                # Sizes are replaced as a whole: an item's size run is part of its definition.
                conn.execute(delete(_V).where(_V.c.item_id.in_(ids)))
                vrows = [{"item_id": it.item_id, "size": v.size, "stock": int(v.stock), "position": i}
                         for it in part for i, v in enumerate(it.variants)]
                if vrows:
                    conn.execute(_V.insert(), vrows)

    def _variants(self, conn: Any, ids: Sequence[str]) -> dict[str, list[Variant]]:
        out: dict[str, list[Variant]] = defaultdict(list)
        for part in chunks(ids):
            stmt = select(_V).where(_V.c.item_id.in_(part)).order_by(_V.c.item_id, _V.c.position)
            for r in conn.execute(stmt):
                out[r.item_id].append(Variant(r.size, r.stock))
        return out

    def get_item(self, item_id: str) -> Item | None:
        return self.get_items([item_id]).get(item_id)

    def get_items(self, item_ids: Sequence[str]) -> dict[str, Item]:
        ids = list(dict.fromkeys(item_ids))
        out: dict[str, Item] = {}
        with connect(self._engine) as conn:
            rows = [r for part in chunks(ids) for r in conn.execute(select(_I).where(_I.c.item_id.in_(part)))]
            variants = self._variants(conn, [r.item_id for r in rows])
        for r in rows:
            out[r.item_id] = _item(r, variants.get(r.item_id, []))
        return out

    def iter_items(self, *, batch_size: int = 1000) -> Iterator[Item]:
        last = ""
        while True:
            with connect(self._engine) as conn:
                rows = conn.execute(select(_I).where(_I.c.item_id > last).order_by(_I.c.item_id).limit(batch_size)).all()
                if not rows:
                    return
                variants = self._variants(conn, [r.item_id for r in rows])
            for r in rows:
                yield _item(r, variants.get(r.item_id, []))
            last = rows[-1].item_id

    def count_items(self) -> int:
        with connect(self._engine) as conn:
            return int(conn.execute(select(func.count()).select_from(_I)).scalar_one())

    def stock_snapshot(self) -> dict[str, frozenset[str]]:
        out: dict[str, set[str]] = {}
        with connect(self._engine) as conn:
            for (item_id,) in conn.execute(select(_I.c.item_id)):
                out[item_id] = set()
            sized: set[str] = set()
            for item_id, size, stock in conn.execute(select(_V.c.item_id, _V.c.size, _V.c.stock)):
                sized.add(item_id)
                if stock > 0 and item_id in out:
                    out[item_id].add(size)
        return {i: frozenset(s) if i in sized else frozenset({"*"}) for i, s in out.items()}

    def set_stock(self, item_id: str, size: str, stock: int) -> None:
        with begin(self._engine) as conn:
            res = conn.execute(update(_V).where((_V.c.item_id == item_id) & (_V.c.size == size)).values(stock=int(stock)))
            if not res.rowcount:
                raise NotFound(f"item {item_id!r} has no size {size!r}; add the size with the item first")
