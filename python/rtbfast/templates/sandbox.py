"""The restricted interpreter the expressions of a template run in: ``$cond`` tests, ``$switch``
cases, ``$eval`` expressions and the bodies of ``$custom`` functions. Template expressions are
untrusted code.

Built on RestrictedPython (the library Zope and Plone run untrusted Python with): its
compiler refuses names and attributes starting with ``_``, ``exec`` and ``eval``, and routes
every attribute and item access, iteration, write and ``*args`` call through guard functions
this module supplies. On top of that, this module's policy (a subclass of its transformer):

- refuses ``import``, ``class``, ``lambda``, nested ``def``, ``global``, ``nonlocal``,
  generators and ``async``, and the builtins that open doors: ``open``, ``compile``,
  ``globals``, ``locals``, ``vars()``, ``type``, ``object``, ``super``, ``dir``,
  ``__import__``…;
- counts a step at every loop iteration and function call (``_tick_``), bounding steps, time
  and call depth (recursion);
- checks the size of what ``+``, ``*``, ``**``, ``<<`` and f-strings would make before making
  it, and counts every large value made against a budget, bounding memory;
- lets attribute access reach only: the object model's own names, and a list of harmless
  methods of ``str``, ``list``, ``dict`` and ``set`` (``str.format`` and ``format_map`` are
  refused: a format string can walk attributes).

A stop (a refusal, a bound passed, a call rtbfast cannot run) is a :class:`Stop`, which is not
an ``Exception``: a template's own ``try``/``except Exception`` cannot swallow it.
"""

from __future__ import annotations

import ast
import math
import time
import warnings
from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

from RestrictedPython.compile import compile_restricted_eval, compile_restricted_exec
from RestrictedPython.Guards import guarded_iter_unpack_sequence, guarded_unpack_sequence
from RestrictedPython.PrintCollector import PrintCollector
from RestrictedPython.transformer import RestrictingNodeTransformer

from rtbfast.templates.wording import kind_of, refusal, runtime, syntax


class Stop(BaseException):
    """Evaluation stopped: ``refused`` (the expression tries what is not allowed),
    ``unsupported`` (it calls what rtbfast cannot run: the operator's database or engine),
    ``limit`` (a bound on steps, time, depth or memory is passed), ``error`` (the template's
    own code failed)."""

    def __init__(self, kind: str, message: str, line: int = 0, column: int = 0) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message
        self.line = line
        self.column = column


@dataclass(frozen=True)
class Limits:
    steps: int = 1_000_000
    """Loop iterations and calls, per target."""
    seconds: float = 10.0
    """Wall time, per target."""
    depth: int = 50
    """Nested custom function calls."""
    items: int = 1_000_000
    """Characters or elements of any one value made."""
    budget: int = 256_000_000
    """Characters and elements made in all, per expansion."""
    int_bits: int = 65_536
    """Bits of any integer made by ``**`` or ``<<``."""
    width: int = 10_000
    """Width of an f-string field."""
    source: int = 100_000
    """Characters of one expression or ``$custom`` body (compiling builds a tree of it)."""
    sequence: int = 10_000
    """Items of one value written to an attribute (a sequence)."""
    rows_per_target: int = 100_000
    """ChangeSet rows one target makes."""
    rows: int = 2_000_000
    """ChangeSet rows one expansion makes, over all its targets."""


@dataclass
class Meter:
    """What one expansion has spent: steps, time and depth for the current target, the
    memory budget for the whole."""

    limits: Limits = field(default_factory=Limits)
    steps: int = 0
    depth: int = 0
    made: int = 0
    deadline: float = 0.0

    def start_target(self) -> None:
        self.steps = 0
        self.depth = 0
        self.deadline = time.monotonic() + self.limits.seconds

    def tick(self) -> None:
        self.steps += 1
        if self.steps > self.limits.steps:
            raise Stop("limit", f"more than {self.limits.steps:,} steps (loop iterations and calls) for one target")
        if self.steps & 1023 == 0 and time.monotonic() > self.deadline:
            raise Stop("limit", f"more than {self.limits.seconds:g} s for one target")

    def account(self, size: int) -> None:
        if size > self.limits.items:
            raise Stop("limit", f"a value of {size:,} characters or items (at most {self.limits.items:,})")
        self.made += size
        if self.made > self.limits.budget:
            raise Stop("limit", f"more than {self.limits.budget:,} characters and items made in all")


REFUSED_NAMES = frozenset(
    {
        "open",
        "compile",
        "globals",
        "locals",
        "type",
        "object",
        "super",
        "dir",
        "help",
        "input",
        "exit",
        "quit",
        "memoryview",
        "bytearray",
        "setattr",
        "delattr",
        "classmethod",
        "staticmethod",
        "property",
        "breakpoint",
        "exec",
        "eval",
        "__import__",
        "id",
        "hash",
        "callable",
        "issubclass",
    }
)
"""Builtins a template may not name (``vars`` is the template's own ``$vars``, not the builtin)."""


class Policy(RestrictingNodeTransformer):
    """RestrictedPython's transformer, stricter (see the module's notes)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.depth = 0

    def refuse(self, node: ast.AST, what: str) -> Any:
        self.error(node, f"{what} is not allowed in a template")
        return node

    def visit_Import(self, node: ast.Import) -> Any:
        return self.refuse(node, "import")

    def visit_ImportFrom(self, node: ast.ImportFrom) -> Any:
        return self.refuse(node, "import")

    def visit_ClassDef(self, node: ast.ClassDef) -> Any:
        return self.refuse(node, "class")

    def visit_Lambda(self, node: ast.Lambda) -> Any:
        return self.refuse(node, "lambda")

    def visit_Global(self, node: ast.Global) -> Any:
        return self.refuse(node, "global")

    def visit_Nonlocal(self, node: ast.Nonlocal) -> Any:
        return self.refuse(node, "nonlocal")

    def visit_Yield(self, node: ast.Yield) -> Any:
        return self.refuse(node, "yield")

    def visit_YieldFrom(self, node: ast.YieldFrom) -> Any:
        return self.refuse(node, "yield")

    def visit_GeneratorExp(self, node: ast.GeneratorExp) -> Any:
        # a list comprehension does the same and its iterations are counted alike
        return super().visit_GeneratorExp(node)

    def visit_AsyncFunctionDef(self, node: ast.AsyncFunctionDef) -> Any:
        return self.refuse(node, "async")

    def visit_Name(self, node: ast.Name) -> Any:
        if node.id in REFUSED_NAMES:
            return self.refuse(node, f"{node.id}()" if node.id not in ("object", "type") else node.id)
        return super().visit_Name(node)

    def visit_FunctionDef(self, node: ast.FunctionDef) -> Any:
        if self.depth:
            return self.refuse(node, "a function inside a function")
        self.depth += 1
        try:
            new: Any = super().visit_FunctionDef(node)
        finally:
            self.depth -= 1
        body = new.body
        tick = ast.Expr(ast.Call(ast.Name("_tick_", ast.Load()), [], []))
        ast.fix_missing_locations(ast.copy_location(tick, node))
        new.body = [tick, *body]
        return new

    def _tick_first(self, node: ast.For | ast.While) -> Any:
        tick = ast.Expr(ast.Call(ast.Name("_tick_", ast.Load()), [], []))
        ast.copy_location(tick, node)
        ast.fix_missing_locations(tick)
        node.body = [tick, *node.body]
        return node

    def visit_For(self, node: ast.For) -> Any:
        new: Any = super().visit_For(node)
        return self._tick_first(new)

    def visit_While(self, node: ast.While) -> Any:
        new: Any = super().visit_While(node)
        return self._tick_first(new)

    def visit_BinOp(self, node: ast.BinOp) -> Any:
        new: Any = super().visit_BinOp(node)
        op = {ast.Add: "+", ast.Mult: "*", ast.Pow: "**", ast.LShift: "<<"}.get(type(new.op))
        if op is None:
            return new
        call = ast.Call(ast.Name("_binop_", ast.Load()), [ast.Constant(op), new.left, new.right], [])
        return ast.fix_missing_locations(ast.copy_location(call, new))

    def visit_JoinedStr(self, node: ast.JoinedStr) -> Any:
        for part in node.values:
            if isinstance(part, ast.FormattedValue) and isinstance(part.format_spec, ast.JoinedStr):
                spec = part.format_spec
                text = "".join(v.value for v in spec.values if isinstance(v, ast.Constant) and isinstance(v.value, str))
                if any(not isinstance(v, ast.Constant) for v in spec.values):
                    self.error(part, "an f-string field's format must be written out, not computed")
                digits = "".join(ch if ch.isdigit() else " " for ch in text).split()
                if any(int(d) > Limits.width for d in digits):
                    self.error(part, f"an f-string field wider than {Limits.width:,}")
        new: Any = super().visit_JoinedStr(node)
        call = ast.Call(ast.Name("_account_", ast.Load()), [new], [])
        return ast.fix_missing_locations(ast.copy_location(call, new))


# -- guards ------------------------------------------------------------------------------------

SAFE_METHODS: dict[type, frozenset[str]] = {
    str: frozenset(
        "split rsplit strip lstrip rstrip startswith endswith lower upper capitalize title find rfind index rindex "
        "count isdigit isalpha isalnum isspace isnumeric isdecimal islower isupper partition rpartition "
        "removeprefix removesuffix splitlines casefold join replace zfill ljust rjust center encode".split()
    ),
    bytes: frozenset("decode startswith endswith split strip hex".split()),
    list: frozenset("append extend insert pop remove index count sort reverse copy clear".split()),
    tuple: frozenset("index count".split()),
    dict: frozenset("get items keys values update setdefault pop popitem copy clear".split()),
    defaultdict: frozenset("get items keys values update setdefault pop popitem copy clear".split()),
    set: frozenset(
        "add update discard remove union intersection difference issubset issuperset copy clear pop".split()
    ),
    frozenset: frozenset("union intersection difference issubset issuperset copy".split()),
    int: frozenset("bit_length".split()),
    float: frozenset("is_integer".split()),
}
"""The methods of the builtin types a template may call; anything else on them is refused."""

WRITABLE = (list, dict, set, defaultdict)
"""Values a template may change in place (its own lists and dicts, and copies of MO values)."""


class Exposed:
    """An object of the template's world (``cell``, ``mo``, ``vars``, ``custom``…): templates
    reach only its public names; one a template may change sets `_writable`."""

    _writable: ClassVar[bool] = False


class Guards:
    """The functions RestrictedPython's compiled code calls, bound to one meter."""

    def __init__(self, meter: Meter) -> None:
        self.meter = meter

    def getattr(self, obj: Any, name: str, default: Any = None, *rest: Any) -> Any:
        if not isinstance(name, str) or name.startswith("_"):
            raise Stop("refused", f"attribute {name!r}: names starting with '_' are not reachable")
        if isinstance(obj, Exposed):
            return getattr(obj, name)
        allowed = SAFE_METHODS.get(type(obj))
        base = type(obj).__base__
        if allowed is None and base is not None and getattr(type(obj), "_inert", False):  # a marked str, as str
            allowed = SAFE_METHODS.get(base)
        if allowed is None or name not in allowed:
            raise Stop("refused", f"{name} is not a method a template may call on {kind_of(obj)}")
        method = getattr(obj, name)
        if isinstance(obj, str) and name in ("join", "replace", "zfill", "ljust", "rjust", "center"):
            return self._sized_str_method(method)
        if isinstance(obj, list) and name in ("extend", "insert", "append"):
            return self._growing(obj, method)
        return method

    def _sized_str_method(self, method: Callable[..., Any]) -> Callable[..., Any]:
        meter = self.meter

        def checked(*args: Any) -> Any:
            owner = method.__self__  # type: ignore[attr-defined]
            name = method.__name__
            if name in ("zfill", "ljust", "rjust", "center") and args and isinstance(args[0], int):
                meter.account(max(args[0], 0))
            elif name == "replace" and len(args) >= 2 and isinstance(args[0], str) and isinstance(args[1], str):
                count = owner.count(args[0]) if args[0] else len(owner) + 1
                meter.account(len(owner) + count * max(len(args[1]) - len(args[0]), 0))
            result = method(*args)
            if name == "join":
                meter.account(len(result))
            return result

        return checked

    def _growing(self, owner: list[Any], method: Callable[..., Any]) -> Callable[..., Any]:
        meter = self.meter

        def checked(*args: Any) -> Any:
            grown = len(args[-1]) if method.__name__ == "extend" and hasattr(args[-1], "__len__") else 1
            if len(owner) + grown > meter.limits.items:
                raise Stop("limit", f"a list of more than {meter.limits.items:,} items")
            meter.account(grown)
            return method(*args)

        return checked

    def getitem(self, obj: Any, index: Any) -> Any:
        return obj[index]

    def write(self, obj: Any) -> Any:
        if isinstance(obj, WRITABLE) or (isinstance(obj, Exposed) and obj._writable):
            return obj
        raise Stop("refused", f"{kind_of(obj)} cannot be changed by a template")

    def getiter(self, obj: Any) -> Iterator[Any]:
        tick = self.meter.tick
        for item in obj:
            tick()
            yield item

    def binop(self, op: str, a: Any, b: Any) -> Any:
        limits = self.meter.limits
        if op == "*":
            for seq, n in ((a, b), (b, a)):
                if isinstance(seq, (str, bytes, list, tuple)) and isinstance(n, int):
                    self.meter.account(len(seq) * max(n, 0))
            return a * b
        if op == "+":
            if isinstance(a, (str, bytes, list, tuple)) and isinstance(b, (str, bytes, list, tuple)):
                self.meter.account(len(a) + len(b))
            return a + b
        if op == "**":
            too_big = (
                isinstance(a, int)
                and isinstance(b, int)
                and abs(a) > 1
                and b > 0
                and b * math.log2(abs(a)) > limits.int_bits
            )
            if too_big:
                raise Stop("limit", f"{a} ** {b} has more than {limits.int_bits:,} bits")
            return a**b
        if op == "<<":
            if isinstance(a, int) and isinstance(b, int) and a and b > limits.int_bits:
                raise Stop("limit", f"a shift by {b} bits (at most {limits.int_bits:,})")
            return a << b
        raise Stop("refused", f"operator {op}")

    def inplacevar(self, op: str, a: Any, b: Any) -> Any:
        binary = {"+=": "+", "*=": "*", "**=": "**", "<<=": "<<"}.get(op)
        if binary is not None:
            return self.binop(binary, a, b)
        return {
            "-=": lambda: a - b,
            "/=": lambda: a / b,
            "//=": lambda: a // b,
            "%=": lambda: a % b,
            ">>=": lambda: a >> b,
            "&=": lambda: a & b,
            "|=": lambda: a | b,
            "^=": lambda: a ^ b,
        }[op]()

    def account(self, value: Any) -> Any:
        if isinstance(value, (str, bytes, list, tuple, dict, set)):
            self.meter.account(len(value))
        return value

    def apply(self, f: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        return f(*args, **kwargs)

    def range(self, *args: int) -> range:
        r = range(*args)
        if len(r) > self.meter.limits.items:
            raise Stop("limit", f"a range of {len(r):,} numbers (at most {self.meter.limits.items:,})")
        return r


def builtins(guards: Guards) -> dict[str, Any]:
    """The builtins a template sees."""
    safe: dict[str, Any] = {
        name: __builtins__[name] if isinstance(__builtins__, dict) else getattr(__builtins__, name)
        for name in (
            "abs all any bool dict enumerate filter float frozenset int isinstance len list map max min "
            "reversed round set sorted str sum tuple zip divmod chr ord repr bytes "
            "Exception ValueError KeyError TypeError IndexError ZeroDivisionError AttributeError ArithmeticError "
            "LookupError RuntimeError StopIteration"
        ).split()
    }
    safe.update({"None": None, "True": True, "False": False, "range": guards.range, "defaultdict": defaultdict})

    def safe_getattr(obj: Any, name: str, *default: Any) -> Any:
        try:
            return guards.getattr(obj, name)
        except AttributeError:
            if default:
                return default[0]
            raise

    def safe_hasattr(obj: Any, name: str) -> bool:
        try:
            guards.getattr(obj, name)
        except (AttributeError, Stop):
            return False
        return True

    safe.update({"getattr": safe_getattr, "hasattr": safe_hasattr})
    return safe


# -- compiling -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Compiled:
    code: Any
    mode: str
    """``eval`` (an expression: its value) or ``exec`` (statements run for their effects)."""
    text: str


def _errors(errors: Sequence[str]) -> Stop:
    first = errors[0]
    line = 0
    if first.startswith("Line "):
        head, _, rest = first.partition(": ")
        line = int(head[5:]) if head[5:].isdigit() else 0
        first = rest or first
    # the policy's refusals; only a syntax error is the template's own mistake
    return Stop("error" if "SyntaxError" in first else "refused", refusal(first), line)


def _compiled(compiler: Callable[..., Any], source: str, filename: str, first_line: int = 1) -> Any:
    """`compiler` (RestrictedPython's) run on `source`; what Python refuses only once the tree
    is compiled (``return`` or ``yield`` outside a function, ``break`` outside a loop, a
    repeated argument…), nesting too deep for the parser and text that cannot be source are a
    :class:`Stop` with the line (from `first_line`) and column, never an exception."""
    try:
        with warnings.catch_warnings():  # the compiler's warnings speak Python, to stderr
            warnings.simplefilter("ignore")
            return compiler(source, filename, policy=Policy)
    except SyntaxError as err:
        line = max((err.lineno or first_line) - first_line + 1, 0)
        raise Stop("error", syntax(err.msg), line, err.offset or 0) from None
    except (RecursionError, MemoryError):
        raise Stop("limit", "nested too deep to compile") from None
    except (ValueError, UnicodeError) as err:  # a NUL, a lone surrogate
        raise Stop("error", f"not source text: {err}") from None


def _sized(text: str) -> None:
    if len(text) > Limits.source:
        raise Stop("limit", f"{len(text):,} characters of code (at most {Limits.source:,} in one expression or body)")


def compile_expression(text: str, filename: str = "<template>") -> Compiled:
    """An expression (``eval``); statements (several lines, as some templates write in a
    top-level ``$eval``) compile as ``exec``. :class:`Stop` says what is refused, or the
    syntax error, with the line and column."""
    _sized(text)
    source = text.replace("\r\n", "\n")
    result = _compiled(compile_restricted_eval, source, filename)
    if result.code is not None and not result.errors:
        return Compiled(result.code, "eval", text)
    if any("invalid syntax" in e or "SyntaxError" in e for e in result.errors) or result.code is None:
        statements = _compiled(compile_restricted_exec, source, filename)
        if statements.code is not None and not statements.errors:
            return Compiled(statements.code, "exec", text)
        raise _errors(statements.errors or result.errors or ("cannot compile",))
    raise _errors(result.errors)


def compile_function(name: str, args: list[str], body: list[str], filename: str = "<template>") -> Compiled:
    """A ``$custom`` function: ``def name(args):`` and its body lines."""
    if not name.isidentifier() or name.startswith("_"):
        raise Stop("refused", f"{name!r} is not a function name")
    for a in args:
        if not a.isidentifier() or a.startswith("_"):
            raise Stop("refused", f"{a!r} is not an argument name")
    body = [part for line in body for part in line.split("\n")]  # a line may hold several
    if len(set(args)) < len(args):
        raise Stop("error", syntax(f"an argument is named twice ({', '.join(args)})"))
    _sized("\n".join(body))
    source = f"def {name}({', '.join(args)}):\n" + "\n".join(f"    {line}" for line in body or ["pass"]) + "\n"
    try:
        result = _compiled(compile_restricted_exec, source, filename, first_line=2)
    except Stop as stop:
        stop.column = max(stop.column - 4, 0) if stop.line else 0  # the body's own columns
        raise
    if result.code is None or result.errors:
        error = _errors(result.errors or ("cannot compile",))
        error.line = max(error.line - 1, 0)  # the body's own lines
        raise error
    return Compiled(result.code, "exec", source)


class Sandbox:
    """The globals expressions run with: the guards, the builtins, and the template's names
    (``cell``, ``mo``, ``vars``, ``custom``…), which :meth:`set` changes between runs."""

    def __init__(self, meter: Meter, names: dict[str, Any]) -> None:
        self.meter = meter
        self.guards = Guards(meter)
        self.printed: list[str] = []
        g = self.guards
        self.globals: dict[str, Any] = {
            "__builtins__": builtins(g),
            "__name__": "template",
            "_getattr_": g.getattr,
            "_getitem_": g.getitem,
            "_getiter_": g.getiter,
            "_write_": g.write,
            "_apply_": g.apply,
            "_inplacevar_": g.inplacevar,
            "_binop_": g.binop,
            "_account_": g.account,
            "_tick_": meter.tick,
            "_print_": PrintCollector,
            "_unpack_sequence_": guarded_unpack_sequence,
            "_iter_unpack_sequence_": guarded_iter_unpack_sequence,
            **names,
        }

    def set(self, **names: Any) -> None:
        self.globals.update(names)

    def run(self, compiled: Compiled) -> Any:
        """Run `compiled`: the value of an expression, None for statements. A Python error
        of the template's own code is a :class:`Stop` of kind ``error``."""
        try:
            if compiled.mode == "eval":
                return eval(compiled.code, self.globals)
            exec(compiled.code, self.globals)
            collector = self.globals.pop("_print", None)
            if collector is not None:
                self.printed.append(str(collector()))
            return None
        except Stop:
            raise
        except RecursionError:
            raise Stop("limit", "recursion too deep") from None
        except MemoryError:
            raise Stop("limit", "out of memory") from None
        except Exception as err:  # the template's own failure, said in the template's words
            raise Stop("error", runtime(err)) from None

    def define(self, compiled: Compiled, name: str) -> Callable[..., Any]:
        """Define a ``$custom`` function in these globals; returns it, wrapped so its calls
        count against the depth bound."""
        exec(compiled.code, self.globals)
        function = self.globals[name]
        meter = self.meter

        def call(*args: Any, **kwargs: Any) -> Any:
            meter.depth += 1
            try:
                if meter.depth > meter.limits.depth:
                    raise Stop("limit", f"custom functions nested more than {meter.limits.depth} deep (recursion?)")
                return function(*args, **kwargs)
            finally:
                meter.depth -= 1

        call.__name__ = name
        self.globals[name] = call
        return call
