"""What every test's app would otherwise make anew: the suite makes an app per test (some
3,500 a CI run), and most of an app's making, and of a page test's time, was compiling the
same URL rules and templates again, and collecting garbage over what every test shares
(scripts/test.sh prints the slowest tests)."""

from __future__ import annotations

import gc

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
