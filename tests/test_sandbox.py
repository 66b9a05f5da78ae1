"""The restricted interpreter template expressions run in: a catalogue of escape attempts, each
refused or stopped by a bound with a clear message, quickly; and what templates really do
still works."""

from __future__ import annotations

import time
from typing import Any

import pytest

from rtbfast.templates.objects import Vars
from rtbfast.templates.sandbox import Limits, Meter, Sandbox, Stop, compile_expression, compile_function

SMALL = Limits(steps=200_000, seconds=5.0, depth=30, items=100_000, budget=5_000_000)


def run(text: str, limits: Limits = SMALL, **names: Any) -> Any:
    meter = Meter(limits)
    meter.start_target()
    box = Sandbox(meter, {"vars": Vars({"n": 3, "found": []}), **names})
    return box.run(compile_expression(text))


def stopped(text: str, limits: Limits = SMALL, **names: Any) -> Stop:
    started = time.monotonic()
    with pytest.raises(Stop) as info:
        run(text, limits, **names)
    assert time.monotonic() - started < 10, f"{text!r} took too long to be stopped"
    return info.value


# (expression, the kind of stop, a fragment of its message)
ESCAPES = [
    ("__import__('os').system('id')", "refused", "__import__"),
    ("import os", "refused", "import"),
    ("from os import path", "refused", "import"),
    ("().__class__.__bases__[0].__subclasses__()", "refused", "starts with '_'"),
    ("''.__class__.__mro__[1].__subclasses__()", "refused", "starts with '_'"),
    ("getattr((), '__class__')", "refused", "'__class__'"),
    ("getattr(getattr((), 'count'), '__self__')", "refused", "__self__"),
    ("vars.__dict__", "refused", "__dict__"),
    ("vars._values", "refused", "_values"),
    ("'{0.__class__}'.format(1)", "refused", "format is not a method a template may call on text"),
    ("'{x.__class__.__init__.__globals__}'.format_map({'x': 1})", "refused", "format_map"),
    ("f'{(1).__class__}'", "refused", "__class__"),
    ("f'{1:{9999999}}'", "refused", "written out"),
    ("f'{1:>99999999}'", "refused", "wider"),
    ("eval('1')", "refused", "eval() is not allowed"),
    ("exec('x = 1')", "refused", "exec() is not allowed"),
    ("compile('1', 'f', 'eval')", "refused", "compile"),
    ("open('/etc/passwd').read()", "refused", "open"),
    ("globals()", "refused", "globals"),
    ("locals()", "refused", "locals"),
    ("type(1)", "refused", "type"),
    ("object", "refused", "object"),
    ("lambda: 1", "refused", "lambda"),
    ("class X: pass", "refused", "class"),
    ("def f():\n    def g():\n        pass", "refused", "inside a function"),
    ("global x", "refused", "global"),
    ("[].__class__", "refused", "__class__"),
    ("(1).real.__class__", "refused", "__class__"),
    ("'abc'.maketrans", "refused", "maketrans"),
    ("dir()", "refused", "dir"),
    # bounds: time, steps, recursion, memory
    ("while True:\n    pass", "limit", "steps"),
    ("for i in range(10**5):\n    for j in range(10**5):\n        pass", "limit", "steps"),
    ("[i for i in range(10**5) for j in range(10**5)]", "limit", "steps"),
    ("'a' * 10**9", "limit", "characters or items"),
    ("[0] * 10**9", "limit", "characters or items"),
    ("2 ** 10**9", "limit", "bits"),
    ("1 << 10**9", "limit", "bits"),
    ("list(range(10**12))", "limit", "range"),
    ("'x'.ljust(10**9)", "limit", "characters or items"),
    ("'a'.replace('', 'b' * 50000)", "limit", "characters or items"),
    ("','.join(['ab'] * 90000)", "limit", "characters or items"),
]


@pytest.mark.parametrize(("text", "kind", "says"), ESCAPES, ids=[e[0][:40] for e in ESCAPES])
def test_escape_attempts_are_stopped(text: str, kind: str, says: str) -> None:
    stop = stopped(text)
    assert stop.kind == kind, (stop.kind, stop.message)
    assert says in stop.message, stop.message


def test_growing_a_list_in_a_loop_meets_the_memory_budget() -> None:
    text = "x = []\nfor i in range(90000):\n    x.extend([i] * 90)"
    stop = stopped(text)
    assert stop.kind == "limit" and "a list of more than 100,000 items" in stop.message
    # many lists, each within the bound: the budget of the whole expansion stops them
    stop = stopped("for i in range(1000):\n    vars.found.append([0] * 90000)")
    assert stop.kind == "limit" and "in all" in stop.message


def test_deep_recursion_of_custom_functions_is_stopped() -> None:
    meter = Meter(SMALL)
    meter.start_target()
    box = Sandbox(meter, {})
    box.define(compile_function("f", ["n"], ["return f(n + 1)"]), "f")
    started = time.monotonic()
    with pytest.raises(Stop) as info:
        box.run(compile_expression("f(0)"))
    assert info.value.kind == "limit" and "nested more than 30" in info.value.message
    assert time.monotonic() - started < 5


def test_a_template_cannot_swallow_a_stop() -> None:
    """try/except Exception in a template does not catch a refusal or a bound."""
    text = "try:\n    while True:\n        pass\nexcept Exception:\n    vars.found.append('caught')"
    stop = stopped(text)
    assert stop.kind == "limit"
    text = "try:\n    x = ().__class__\nexcept Exception:\n    x = 'caught'"
    assert stopped(text).kind == "refused"


def test_wall_time_is_bounded() -> None:
    limits = Limits(steps=10**12, seconds=0.5)
    started = time.monotonic()
    stop = stopped("while True:\n    pass", limits)
    assert stop.kind == "limit" and "s for one target" in stop.message
    assert time.monotonic() - started < 3


def test_what_real_templates_write_still_runs() -> None:
    assert run("int('12') in [12, 16, 18]") is True
    assert run("f'{vars.n}/UeCC-1/DrbRlc-Default'") == "3/UeCC-1/DrbRlc-Default"
    assert run("'-'.join('a-b-c'.split('-')[1:])") == "b-c"
    assert run("sorted({'b': 1, 'a': 2}.items())") == [("a", 2), ("b", 1)]
    assert run("all([not x for x in [0, '', None]])") is True
    assert run("{'x': [1, 2][-1], 'y': 2 ** 10}") == {"x": 2, "y": 1024}
    # statements, assignment to vars, try/except of the template's own errors
    run("vars.found.append(len('abc'))\ntry:\n    int('x')\nexcept ValueError:\n    vars.found.append('bad')")
    meter = Meter(SMALL)
    meter.start_target()
    shared = Vars({"found": []})
    box = Sandbox(meter, {"vars": shared})
    box.run(compile_expression("vars.found.append(1)\nvars.total = 5"))
    assert box.run(compile_expression("(vars.found, vars.total)")) == ([1], 5)


def test_the_template_own_errors_are_errors_in_its_terms() -> None:
    stop = stopped("1 / 0")
    assert stop.kind == "error" and stop.message == "division by zero"
    stop = stopped("vars.missing")
    assert stop.kind == "error" and "no such variable" in stop.message
    with pytest.raises(Stop) as info:
        compile_expression("1 +")
    assert info.value.kind == "error" and info.value.message.startswith("syntax error: ")


def test_custom_function_bodies_are_checked_when_compiled() -> None:
    with pytest.raises(Stop) as info:
        compile_function("f", ["mo"], ["x = 1", "import os", "return x"])
    assert info.value.kind == "refused" and info.value.line == 2
    with pytest.raises(Stop) as info:
        compile_function("__init__", [], ["return 1"])
    assert info.value.kind == "refused"
    with pytest.raises(Stop):
        compile_function("f", ["__class__"], ["return 1"])
