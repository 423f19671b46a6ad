"""Rule-based segments: marketer-written filters over profile features, and consented audiences.

A rule names a profile feature, an operator and a value. It can be written as a
dict or as one short line:

=================================================  =============================================
line                                               dict
=================================================  =============================================
``affinity.style:minimalist >= 0.3``               ``{"field": "affinity.style:minimalist", "op": ">=", "value": 0.3}``
``monetary between 50 and 500``                    ``{"field": "monetary", "op": "between", "value": [50, 500]}``
``lifecycle in loyal, at_risk``                    ``{"field": "lifecycle", "op": "in", "value": ["loyal", "at_risk"]}``
``price_sensitivity == price-sensitive``           ``{"field": "price_sensitivity", "op": "==", "value": "price-sensitive"}``
=================================================  =============================================

Operators: ``>=``, ``>``, ``<=``, ``<``, ``==``, ``!=``, ``between`` (inclusive), ``in``,
``not in``. Fields are paths into the profile's feature dict
(:meth:`fitloop.profile.features.Profile.features`), dots between levels:
``affinity_long.style.minimalist``. Short forms: ``affinity.<attribute>:<value>``
(= ``affinity_long.<attribute>.<value>``), ``affinity_short.<attribute>:<value>``,
``monetary`` (= ``monetary_total``), ``frequency`` (= ``frequency_orders``),
``recency`` (= ``recency_days``). A missing affinity counts 0; any other missing
feature makes the rule false.

A segment is ``{"name": …, "match": "all" | "any", "rules": [line or dict, …]}``.

>>> seg = RuleSegment.from_dict({"name": "loyal minimalists",
...     "rules": ["affinity.style:minimalist >= 0.3", "lifecycle in loyal, at_risk"]})
>>> p = {"user_id": "u1", "lifecycle": "loyal", "affinity_long": {"style": {"minimalist": 0.5}}}
>>> seg.members([p]), seg.explain(p)[0]
(['u1'], 'style minimalist affinity = 0.5 (rule: affinity.style:minimalist >= 0.3) ✓')
>>> Rule.parse("monetary between 500 and 50")
Traceback (most recent call last):
...
fitloop.errors.InvalidInput: rule 'monetary between 500 and 50': lower bound 500 is above upper bound 50
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from fitloop.errors import InvalidInput

__all__ = ["OPERATORS", "Rule", "RuleSegment", "profile_features", "consented_members"]

OPERATORS: tuple[str, ...] = (">=", "<=", "!=", "==", ">", "<", "between", "not in", "in")
_ALIASES = {"monetary": "monetary_total", "frequency": "frequency_orders", "recency": "recency_days"}
_FIELD_RE = re.compile(r"^[A-Za-z_][\w\-]*(\.[\w\- :/&]+)*$")
_LINE_RE = re.compile(r"^\s*(?P<field>\S+)\s+(?P<op>>=|<=|!=|==|>|<|between|not in|in)\s+(?P<value>.+?)\s*$")


def profile_features(profile: Any) -> Mapping[str, Any]:
    """The feature dict of a profile: a ``Profile`` (``.features()``), a ``to_dict()`` document
    (its ``"features"``), or a feature mapping as is."""
    feats = getattr(profile, "features", None)
    if callable(feats):
        out = feats()
        if isinstance(out, Mapping):
            return out
    if isinstance(profile, Mapping):
        inner = profile.get("features")
        return inner if isinstance(inner, Mapping) else profile
    raise InvalidInput(f"cannot read profile features from a {type(profile).__name__}; pass a Profile or a dict")


def _number(text: Any, rule: str) -> float:
    try:
        v = float(text)
    except (TypeError, ValueError):
        raise InvalidInput(f"rule {rule!r}: {text!r} is not a number") from None
    if not math.isfinite(v):
        raise InvalidInput(f"rule {rule!r}: {text!r} is not a finite number")
    return v


def _scalar(text: str) -> Any:
    """A value from a rule line: a number if it reads as one, else the string."""
    t = text.strip().strip("'\"")
    try:
        return float(t)
    except ValueError:
        return t


@dataclass(frozen=True)
class Rule:
    """One condition on a profile feature (see the module docstring)."""

    field: str
    op: str
    value: Any

    def __post_init__(self) -> None:
        text = self.text
        if not isinstance(self.field, str) or not _FIELD_RE.match(self.field):
            raise InvalidInput(f"rule {text!r}: field must be a dotted feature name like 'affinity.style:minimalist'")
        if self.op not in OPERATORS:
            raise InvalidInput(f"rule {text!r}: unknown operator {self.op!r}; use one of {list(OPERATORS)}")
        if self.op == "between":
            if not isinstance(self.value, (list, tuple)) or len(self.value) != 2:
                raise InvalidInput(f"rule {text!r}: 'between' needs two bounds, e.g. [50, 500]")
            lo, hi = (_number(v, text) for v in self.value)
            if lo > hi:
                raise InvalidInput(f"rule {text!r}: lower bound {_fmt(lo)} is above upper bound {_fmt(hi)}")
            object.__setattr__(self, "value", (lo, hi))
        elif self.op in ("in", "not in"):
            if isinstance(self.value, str) or not isinstance(self.value, (list, tuple, set, frozenset)) or not self.value:
                raise InvalidInput(f"rule {text!r}: {self.op!r} needs a non-empty list of values")
            object.__setattr__(self, "value", tuple(self.value))
        elif self.op in (">=", "<=", ">", "<"):
            object.__setattr__(self, "value", _number(self.value, text))
        elif not isinstance(self.value, (str, int, float, bool)):
            raise InvalidInput(f"rule {text!r}: {self.op!r} compares with a string or a number")

    @property
    def text(self) -> str:
        if self.op == "between" and isinstance(self.value, (list, tuple)) and len(self.value) == 2:
            return f"{self.field} between {_fmt(self.value[0])} and {_fmt(self.value[1])}"
        if self.op in ("in", "not in") and isinstance(self.value, (list, tuple)):
            return f"{self.field} {self.op} {', '.join(str(v) for v in self.value)}"
        return f"{self.field} {self.op} {_fmt(self.value)}"

    @classmethod
    def parse(cls, rule: str | Mapping[str, Any]) -> Rule:
        """A rule from one line (``"monetary between 50 and 500"``) or a dict."""
        if isinstance(rule, Mapping):
            unknown = sorted(set(rule) - {"field", "op", "value"})
            missing = [k for k in ("field", "op", "value") if k not in rule]
            if unknown or missing:
                raise InvalidInput(
                    f"rule {dict(rule)!r} must have exactly the keys field, op, value"
                    + (f"; missing {missing}" if missing else "") + (f"; unknown {unknown}" if unknown else "")
                )
            return cls(str(rule["field"]), str(rule["op"]).strip().lower(), rule["value"])
        if not isinstance(rule, str):
            raise InvalidInput(f"a rule is a line of text or a dict, got {type(rule).__name__}")
        m = _LINE_RE.match(rule)
        if not m:
            raise InvalidInput(
                f"cannot read rule {rule!r}; write '<feature> <op> <value>', e.g. 'monetary between 50 and 500' "
                f"or 'lifecycle in loyal, at_risk' (operators: {', '.join(OPERATORS)})"
            )
        field, op, raw = m["field"], m["op"], m["value"]
        value: Any
        if op == "between":
            parts = re.split(r"\s+and\s+", raw)
            if len(parts) != 2:
                raise InvalidInput(f"rule {rule!r}: write 'between <low> and <high>'")
            value = [_number(p, rule) for p in parts]
        elif op in ("in", "not in"):
            value = [_scalar(v) for v in raw.split(",") if v.strip()]
        else:
            value = _scalar(raw)
        return cls(field, op, value)

    def to_dict(self) -> dict[str, Any]:
        v = list(self.value) if isinstance(self.value, tuple) else self.value
        return {"field": self.field, "op": self.op, "value": v}

    # ------------------------------------------------------------------ evaluation
    def lookup(self, features: Mapping[str, Any]) -> Any:
        """The feature value this rule reads (``None`` when absent; a missing affinity is 0)."""
        path = self.field
        head, _, rest = path.partition(".")
        head = _ALIASES.get(head, head)
        if head == "affinity":
            head = "affinity_long"
        is_affinity = head.startswith("affinity_")
        node: Any = features.get(head)
        if rest:
            for part in rest.split("."):
                node = _step(node, part)
        if node is None and is_affinity and rest:
            return 0.0
        return node

    def check(self, features: Mapping[str, Any]) -> bool:
        v = self.lookup(features)
        if v is None:
            return False
        op, target = self.op, self.value
        if op in ("in", "not in"):
            inside = any(_equal(v, t) for t in target)
            return inside if op == "in" else not inside
        if op == "==":
            return _equal(v, target)
        if op == "!=":
            return not _equal(v, target)
        try:
            x = float(v)
        except (TypeError, ValueError):
            return False
        if op == "between":
            return bool(target[0] <= x <= target[1])
        return bool({">=": x >= target, "<=": x <= target, ">": x > target, "<": x < target}[op])


def _step(node: Any, part: str) -> Any:
    if not isinstance(node, Mapping):
        return None
    if part in node:
        return node[part]
    # "style:minimalist" reads node["style"]["minimalist"].
    if ":" in part:
        outer, inner = part.split(":", 1)
        sub = node.get(outer)
        if isinstance(sub, Mapping):
            return sub.get(inner)
    return None


def _equal(a: Any, b: Any) -> bool:
    if isinstance(a, bool) or isinstance(b, bool):
        return str(a).lower() == str(b).lower()
    try:
        return float(a) == float(b)
    except (TypeError, ValueError):
        return str(a).strip().lower() == str(b).strip().lower()


def _fmt(v: Any) -> str:
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    if isinstance(v, float):
        return f"{v:g}"
    return str(v)


def _describe(field: str) -> str:
    head, _, rest = field.partition(".")
    if head.startswith("affinity"):
        return f"{rest.replace(':', ' ').replace('.', ' ')} affinity" + (" (lately)" if "short" in head else "")
    return _ALIASES.get(head, head).replace("_", " ") + (f" {rest}" if rest else "")


@dataclass(frozen=True)
class RuleSegment:
    """A named set of rules; a shopper is a member when ``all`` (or ``any``) rules hold."""

    name: str
    rules: tuple[Rule, ...]
    match: str = "all"

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name.strip():
            raise InvalidInput("a rule segment needs a non-empty name")
        if self.match not in ("all", "any"):
            raise InvalidInput(f"segment {self.name!r}: match must be 'all' or 'any', got {self.match!r}")
        if not self.rules:
            raise InvalidInput(f"segment {self.name!r} has no rules; add at least one, e.g. 'lifecycle in loyal'")
        object.__setattr__(self, "rules", tuple(r if isinstance(r, Rule) else Rule.parse(r) for r in self.rules))

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> RuleSegment:
        """Parse ``{"name": …, "match": "all"|"any", "rules": [line or dict, …]}``."""
        if not isinstance(d, Mapping):
            raise InvalidInput(f"a rule segment is a dict with name and rules, got {type(d).__name__}")
        unknown = sorted(set(d) - {"name", "match", "rules"})
        if unknown:
            raise InvalidInput(f"unknown rule-segment keys {unknown}; use name, match, rules")
        rules = d.get("rules")
        if not isinstance(rules, Sequence) or isinstance(rules, (str, bytes)):
            raise InvalidInput("rules must be a list of rule lines or dicts")
        return cls(str(d.get("name", "")), tuple(Rule.parse(r) for r in rules), str(d.get("match", "all")))

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "match": self.match, "rules": [r.to_dict() for r in self.rules]}

    def contains(self, profile: Any) -> bool:
        f = profile_features(profile)
        hits = (r.check(f) for r in self.rules)
        return all(hits) if self.match == "all" else any(hits)

    def members(self, profiles: Iterable[Any]) -> list[str]:
        """User ids of the profiles that match, in input order."""
        out: list[str] = []
        for p in profiles:
            f = profile_features(p)
            uid = f.get("user_id", getattr(p, "user_id", None))
            if uid is None:
                raise InvalidInput("a profile without user_id cannot be a segment member")
            if self.contains(f):
                out.append(str(uid))
        return out

    def explain(self, profile: Any) -> list[str]:
        """One line per rule: the shopper's value, the rule, and whether it holds (✓/✗)."""
        f = profile_features(profile)
        lines = []
        for r in self.rules:
            v = r.lookup(f)
            shown = "missing" if v is None else _fmt(round(v, 3) if isinstance(v, float) else v)
            lines.append(f"{_describe(r.field)} = {shown} (rule: {r.text}) {'✓' if r.check(f) else '✗'}")
        verdict = "member" if self.contains(f) else "not a member"
        lines.append(f"{verdict} of {self.name!r} ({self.match} rules must hold)")
        return lines


def consented_members(
    user_ids: Iterable[str], has_consent: Callable[[str, str], bool], purpose: str
) -> list[str]:
    """The audience: ``user_ids`` (order kept, duplicates dropped) whose consent to ``purpose`` holds.

    >>> consented_members(["a", "b", "a"], lambda u, p: u == "a" and p == "marketing", "marketing")
    ['a']
    """
    if not isinstance(purpose, str) or not purpose.strip():
        raise InvalidInput("an audience needs a consent purpose, e.g. 'marketing'")
    seen: set[str] = set()
    out: list[str] = []
    for u in user_ids:
        u = str(u)
        if u in seen:
            continue
        seen.add(u)
        if has_consent(u, purpose):
            out.append(u)
    return out
