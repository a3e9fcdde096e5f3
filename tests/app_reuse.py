"""What every test's app would otherwise make anew: the suite makes an app per test (some
3,500 a CI run), and most of an app's making, and of a page test's time, was compiling the
same URL rules, templates and SQL statements again, and collecting garbage over what every
test shares (scripts/test.sh prints the slowest tests)."""

from __future__ import annotations

import gc
import weakref
from typing import Any

from jinja2.bccache import Bucket, BytecodeCache


def compile_url_builders_once() -> None:
    """Each test makes its own app, and werkzeug compiles each of the app's ~220 URL rules
    into two builder functions (an AST built and compiled per rule): about 90 % of
    ``create_app``, 90-200 ms a test, some 3,500 times a CI run. A builder depends only on
    its rule's parsed form and defaults (it reaches the rule's converters through its
    ``self`` argument, bound per rule), so the suite compiles each rule's once and every
    later app binds the same function to its own rule. Without werkzeug's private method
    (another werkzeug) the apps are made as before, only slower."""
    from werkzeug.routing.rules import Rule

    compile_builder = getattr(Rule, "_compile_builder", None)
    if compile_builder is None:
        return
    compiled: dict[tuple, object] = {}

    def cached(self: Rule, append_unknown: bool = True):
        key = (self.rule, repr(self._trace), repr(sorted((self.defaults or {}).items())))
        key += (append_unknown,)
        found = compiled.get(key)
        if found is None:
            found = compiled[key] = compile_builder(self, append_unknown)
        return found

    Rule._compile_builder = cached


def parse_url_rules_once() -> None:
    """Then the rest of a rule's compiling, werkzeug's ``Rule.compile``: parsing the rule
    into the parts the matcher adds (their regular expressions and weights), the trace the
    builders follow and the converters of its variables -- about half of what was left of
    ``create_app`` in a test (42.5 -> 22.7 ms). That depends only on the rule's text, its host or
    subdomain, the map's slash merging and converters; the suite parses each rule once and
    every later app's rule takes copies of the result. The converter objects are shared:
    werkzeug's keep the map they were made for but never read it, and the portal adds none
    of its own (a map with other converters parses its rules itself). The builders come from
    compile_url_builders_once, bound to each app's own rule. Without werkzeug's private
    attributes (another werkzeug) the rules are compiled as before."""
    from werkzeug.routing.converters import DEFAULT_CONVERTERS
    from werkzeug.routing.rules import Rule

    compile_rule = Rule.compile
    if not all(hasattr(Rule, name) for name in ("_parse_rule", "_compile_builder")):
        return
    parsed: dict[tuple, tuple] = {}

    def compile(self: Rule) -> None:
        if self.map.converters != DEFAULT_CONVERTERS:
            compile_rule(self)
            return
        domain = self.host if self.map.host_matching else self.subdomain
        key = (self.rule, domain or "", self.map.host_matching, bool(self.merge_slashes))
        found = parsed.get(key)
        if found is None:
            before = set(self.arguments)
            compile_rule(self)
            parsed[key] = (
                list(self._parts),
                list(self._trace),
                dict(self._converters),
                set(self.arguments) - before,
            )
            return
        parts, trace, converters, variables = found
        self._parts, self._trace = list(parts), list(trace)
        self._converters = dict(converters)
        self.arguments.update(variables)
        self._build = self._compile_builder(False).__get__(self, None)
        self._build_unknown = self._compile_builder(True).__get__(self, None)

    Rule.compile = compile


_PLAIN = (str, int, float, bool, type(None))


def _plain(value: Any) -> bool:
    return isinstance(value, _PLAIN) or (
        isinstance(value, tuple) and all(isinstance(item, _PLAIN) for item in value)
    )


def _lazy(cls: type, name: str) -> bool:
    """Whether the class makes ``name`` on first use (SQLAlchemy's memoized properties): a
    dialect holds it or not depending on what it has run so far, not on its settings."""
    return hasattr(type(getattr(cls, name, None)), "__get__")


# Each dialect's kind, read once (the engine's cache and every mapper's ask for it).
_KINDS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _kind_of(dialect: Any) -> tuple:
    """The dialect's class and its plain settings, sorted by name (_SameKindOfDialect)."""
    kind = _KINDS.get(dialect)
    if kind is None:
        cls = type(dialect)
        settings = sorted(
            (name, value)
            for name, value in vars(dialect).items()
            if _plain(value) and not _lazy(cls, name)
        )
        kind = _KINDS[dialect] = (cls, tuple(settings))
    return kind


class _SameKindOfDialect:
    """An LRU cache of compiled SQL whose keys name the dialect by what it is -- its class
    and every plain setting it holds (server version, parameter style, identifier length, the
    driver's options) -- instead of by the object. SQLAlchemy keys a statement's compiled form
    by the dialect object, and each test's app makes a new engine with a new dialect, so every
    test compiled every statement it ran again (12 % of tests/members' time), the ORM's
    INSERTs and UPDATEs too (cached per mapper). Two dialects of one class with the same
    settings compile a statement alike; one that differs in any plain setting gets its own
    entries. A dialect is read once, when it first compiles (connected, so initialized); what
    it makes on first use (its memoized properties) is not a setting and is left out."""

    def __init__(self, size: int) -> None:
        from sqlalchemy.util import LRUCache

        self._entries: Any = LRUCache(size)

    def _key(self, key: tuple) -> tuple:
        return (_kind_of(key[0]), *key[1:])

    def get(self, key: tuple, default: Any = None) -> Any:
        return self._entries.get(self._key(key), default)

    def __getitem__(self, key: tuple) -> Any:
        return self._entries[self._key(key)]

    def __setitem__(self, key: tuple, value: Any) -> None:
        self._entries[self._key(key)] = value

    def __contains__(self, key: tuple) -> bool:
        return self._key(key) in self._entries

    def __len__(self) -> int:
        return len(self._entries)

    def clear(self) -> None:
        self._entries.clear()


def share_compiled_sql() -> None:
    """Every engine the run makes (one a test) and every mapper's cache of the ORM's own
    INSERTs and UPDATEs keep their compiled SQL in caches keyed by the kind of dialect
    (_SameKindOfDialect), so a statement is compiled once a run instead of once a test."""
    from sqlalchemy.engine import Engine
    from sqlalchemy.orm import Mapper
    from sqlalchemy.util import HasMemoized

    shared = _SameKindOfDialect(5_000)

    # A property, not a wrapped __init__ (create_engine reads __init__'s arguments): the
    # engine's own LRU cache, set in its __init__, is kept aside and the shared one answered
    # in its place; an engine made without a cache (query_cache_size=0) keeps none.
    def get(self: Engine) -> _SameKindOfDialect | None:
        return shared if self.__dict__.get("_own_compiled_cache") is not None else None

    def set_(self: Engine, cache: Any) -> None:
        self.__dict__["_own_compiled_cache"] = cache

    def _compiled_cache(self: Mapper) -> _SameKindOfDialect:
        return _SameKindOfDialect(max(self._compiled_cache_size, 1_000))

    Engine._compiled_cache = property(get, set_)  # type: ignore[assignment]
    Mapper._compiled_cache = HasMemoized.memoized_attribute(_compiled_cache)  # type: ignore[assignment]


class _SharedTemplateCode(BytecodeCache):
    """Jinja's compiled templates, kept for the whole run (per xdist worker): each test's app
    has its own Jinja environment, which parsed and compiled every template it rendered
    anew, about a fifth of a page test's time. Jinja keys each entry by the template's name
    and checks its source's checksum, so an edited template is compiled again."""

    def __init__(self) -> None:
        self.code: dict[str, bytes] = {}

    def load_bytecode(self, bucket: Bucket) -> None:
        if bucket.key in self.code:
            bucket.bytecode_from_string(self.code[bucket.key])

    def dump_bytecode(self, bucket: Bucket) -> None:
        self.code[bucket.key] = bucket.bytecode_to_string()


TEMPLATE_CODE = _SharedTemplateCode()


def freeze_what_is_loaded() -> None:
    """Move what the run has loaded so far (the modules, SQLAlchemy's mappers, the compiled
    builders) out of the cyclic collector's reach, as gunicorn.conf.py does for a worker:
    each test's app allocates enough to start full collections, which otherwise walked all
    of it every time (tests/members, ownership and customers: 67.5 / 65.2 -> 62.3 / 60.4 s on
    2 workers)."""
    gc.collect()
    gc.freeze()
