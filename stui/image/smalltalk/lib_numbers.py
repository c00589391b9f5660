"""Numbers: SmallInteger and Large*Integer (Python int), Float (float), Fraction (fractions.Fraction).

Mixed arithmetic follows Pharo's generality: Integer < Fraction < Float. Exact division answers a
Fraction, or an Integer when it divides evenly; a Fraction whose denominator becomes 1 is an Integer.
A non-number argument gets ``adaptToInteger:andSend:`` (etc.) sent to it, which it does not understand,
so ``3 + nil`` fails like Pharo: ``UndefinedObject>>adaptToInteger:andSend:``.
"""

from __future__ import annotations

import math
import random as random_module
from fractions import Fraction
from typing import TYPE_CHECKING, Any

from stui.image.smalltalk.lib_kernel import print_string
from stui.image.smalltalk.lib_support import make_point
from stui.image.smalltalk.library import primitive
from stui.image.smalltalk.objects import Block, Char, Kind, Obj, StClass, StString
from stui.image.smalltalk.printing import int_text

if TYPE_CHECKING:
    from stui.image.smalltalk.runtime import VM

__all__ = ("adapt", "check_finite", "is_number", "normalize", "zero_divide")

_DIGITS = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"


def is_number(x: Any) -> bool:
    t = type(x)
    return t is int or t is float or t is Fraction


def normalize(x: Any) -> Any:
    if type(x) is Fraction and x.denominator == 1:
        return int(x)
    return x


def adapt(vm: VM, rcv: Any, arg: Any, selector: str) -> Any:
    """A number met a non-number: ``arg adaptToInteger: rcv andSend: selector`` (and so on).

    A sequenceable collection adapts by applying the operation to each element (``3 + #(1 2)`` is
    ``#(4 5)``); anything else does not understand the message, like in Pharo.
    """
    if type(arg) is Obj and arg.cls.kind in (Kind.ARRAY, Kind.ORDERED, Kind.INTERVAL):
        from stui.image.smalltalk.lib_collections import elements, new_like

        return new_like(vm, arg, [vm.send(rcv, selector, x) for x in elements(vm, arg)], True)
    kind = "Integer" if type(rcv) is int else ("Float" if type(rcv) is float else "Fraction")
    return vm.dnu(arg, f"adaptTo{kind}:andSend:", (rcv, selector))


def _arith(selector: str, op: Any) -> Any:
    def arith(vm: VM, rcv: Any, arg: Any) -> Any:
        if not is_number(arg):
            if type(arg) is Obj and arg.cls.builtin_name == "Point":
                return vm.send(make_point(vm, rcv, rcv), selector, arg)
            return adapt(vm, rcv, arg, selector)
        try:
            return normalize(op(rcv, arg))
        except OverflowError:
            return vm.signal_error("ArithmeticError", "result too large for a Float")

    return arith


primitive("Number", "+")(_arith("+", lambda a, b: a + b))
primitive("Number", "-")(_arith("-", lambda a, b: a - b))
primitive("Number", "*")(_arith("*", lambda a, b: a * b))


def _compare(selector: str, op: Any) -> Any:
    def compare(vm: VM, rcv: Any, arg: Any) -> Any:
        if not is_number(arg):
            return adapt(vm, rcv, arg, selector)
        return op(rcv, arg)

    return compare


primitive("Number", "<")(_compare("<", lambda a, b: a < b))
primitive("Number", ">")(_compare(">", lambda a, b: a > b))
primitive("Number", "<=")(_compare("<=", lambda a, b: a <= b))
primitive("Number", ">=")(_compare(">=", lambda a, b: a >= b))


@primitive("Number", "=")
def _eq(vm: VM, rcv: Any, arg: Any) -> bool:
    return is_number(arg) and rcv == arg


@primitive("Number", "~=")
def _ne(vm: VM, rcv: Any, arg: Any) -> bool:
    return not (is_number(arg) and rcv == arg)


def zero_divide(vm: VM, rcv: Any) -> Any:
    return vm.signal_error("ZeroDivide", None, dividend=rcv)


@primitive("Number", "/")
def _divide(vm: VM, rcv: Any, arg: Any) -> Any:
    if not is_number(arg):
        return adapt(vm, rcv, arg, "/")
    if arg == 0:
        return zero_divide(vm, rcv)
    if type(rcv) is float or type(arg) is float:
        return rcv / arg
    return normalize(Fraction(rcv) / Fraction(arg))


@primitive("Number", "//")
def _floor_divide(vm: VM, rcv: Any, arg: Any) -> Any:
    if not is_number(arg):
        return adapt(vm, rcv, arg, "//")
    if arg == 0:
        return zero_divide(vm, rcv)
    return math.floor(rcv / arg) if type(rcv) is float or type(arg) is float else int(rcv // arg)


@primitive("Number", "\\\\")
def _modulo(vm: VM, rcv: Any, arg: Any) -> Any:
    if not is_number(arg):
        return adapt(vm, rcv, arg, "\\\\")
    if arg == 0:
        return zero_divide(vm, rcv)
    return normalize(rcv - (rcv // arg) * arg)


@primitive("Number", "rem:")
def _rem(vm: VM, rcv: Any, arg: Any) -> Any:
    if not is_number(arg):
        return adapt(vm, rcv, arg, "rem:")
    if arg == 0:
        return zero_divide(vm, rcv)
    return normalize(rcv - _quo(rcv, arg) * arg)


def _quo(a: Any, b: Any) -> int:
    q = abs(a) // abs(b)
    return int(q if (a >= 0) == (b >= 0) else -q)


@primitive("Number", "quo:")
def _quo_prim(vm: VM, rcv: Any, arg: Any) -> Any:
    if not is_number(arg):
        return adapt(vm, rcv, arg, "quo:")
    if arg == 0:
        return zero_divide(vm, rcv)
    return _quo(rcv, arg)


@primitive("Number", "abs")
def _abs(vm: VM, rcv: Any) -> Any:
    return abs(rcv)


@primitive("Number", "negated")
def _negated(vm: VM, rcv: Any) -> Any:
    return -rcv


@primitive("Number", "reciprocal")
def _reciprocal(vm: VM, rcv: Any) -> Any:
    return _divide(vm, 1, rcv)


@primitive("Number", "squared")
def _squared(vm: VM, rcv: Any) -> Any:
    return rcv * rcv


@primitive("Number", "sqrt")
def _sqrt(vm: VM, rcv: Any) -> float:
    if rcv < 0:
        return math.nan
    if type(rcv) is int and rcv > 2**1000:
        return float(math.isqrt(rcv))
    return math.sqrt(rcv)


@primitive("Integer", "sqrtFloor")
def _sqrt_floor(vm: VM, rcv: int) -> int:
    return math.isqrt(rcv)


@primitive("Number", "raisedTo:", "**")
def _raised_to(vm: VM, rcv: Any, arg: Any) -> Any:
    if not is_number(arg):
        return adapt(vm, rcv, arg, "raisedTo:")
    if type(arg) is int:
        if arg < 0:
            if rcv == 0:
                return zero_divide(vm, rcv)
            return (
                normalize(Fraction(1) / Fraction(rcv) ** -arg)
                if type(rcv) is not float
                else rcv**arg
            )
        if type(rcv) is int and arg * max(rcv.bit_length(), 1) > 10_000_000:
            return vm.signal_error("Error", "result would be too large")
        return normalize(rcv**arg)
    try:
        result = float(rcv) ** float(arg)
    except (OverflowError, ZeroDivisionError):
        return vm.signal_error("ArithmeticError", "result not representable")
    return math.nan if isinstance(result, complex) else result


@primitive("Number", "ln")
def _ln(vm: VM, rcv: Any) -> float:
    return math.log(rcv) if rcv > 0 else math.nan


@primitive("Number", "log:")
def _log(vm: VM, rcv: Any, base: Any) -> float:
    return math.log(rcv, base) if rcv > 0 else math.nan


@primitive("Number", "log")
def _log10(vm: VM, rcv: Any) -> float:
    return math.log10(rcv) if rcv > 0 else math.nan


@primitive("Number", "exp")
def _exp(vm: VM, rcv: Any) -> float:
    return math.exp(rcv)


@primitive("Number", "sin")
def _sin(vm: VM, rcv: Any) -> float:
    return math.sin(rcv)


@primitive("Number", "cos")
def _cos(vm: VM, rcv: Any) -> float:
    return math.cos(rcv)


@primitive("Number", "tan")
def _tan(vm: VM, rcv: Any) -> float:
    return math.tan(rcv)


@primitive("Number", "arcTan")
def _arctan(vm: VM, rcv: Any) -> float:
    return math.atan(rcv)


@primitive("Number", "max:")
def _max(vm: VM, rcv: Any, arg: Any) -> Any:
    if not is_number(arg):
        return adapt(vm, rcv, arg, "max:")
    return arg if arg > rcv else rcv


@primitive("Number", "min:")
def _min(vm: VM, rcv: Any, arg: Any) -> Any:
    if not is_number(arg):
        return adapt(vm, rcv, arg, "min:")
    return arg if arg < rcv else rcv


@primitive("Magnitude", "between:and:")
def _between(vm: VM, rcv: Any, low: Any, high: Any) -> bool:
    return vm.send(rcv, ">=", low) is True and vm.send(rcv, "<=", high) is True


@primitive("Magnitude", "max:")
def _mag_max(vm: VM, rcv: Any, arg: Any) -> Any:
    return arg if vm.send(rcv, "<", arg) is True else rcv


@primitive("Magnitude", "min:")
def _mag_min(vm: VM, rcv: Any, arg: Any) -> Any:
    return arg if vm.send(rcv, ">", arg) is True else rcv


@primitive("Magnitude", ">")
def _mag_gt(vm: VM, rcv: Any, arg: Any) -> Any:
    return vm.send(arg, "<", rcv)


@primitive("Magnitude", "<=")
def _mag_le(vm: VM, rcv: Any, arg: Any) -> Any:
    return vm.send(arg, "<", rcv) is not True


@primitive("Magnitude", ">=")
def _mag_ge(vm: VM, rcv: Any, arg: Any) -> Any:
    return vm.send(rcv, "<", arg) is not True


@primitive("Number", "sign")
def _sign(vm: VM, rcv: Any) -> int:
    return (rcv > 0) - (rcv < 0)


@primitive("Number", "isZero")
def _is_zero(vm: VM, rcv: Any) -> bool:
    return rcv == 0


@primitive("Number", "negative")
def _negative(vm: VM, rcv: Any) -> bool:
    return rcv < 0


@primitive("Number", "positive")
def _positive(vm: VM, rcv: Any) -> bool:
    return rcv >= 0


@primitive("Number", "strictlyPositive")
def _strictly_positive(vm: VM, rcv: Any) -> bool:
    return rcv > 0


@primitive("Number", "even")
def _even(vm: VM, rcv: Any) -> bool:
    return rcv % 2 == 0


@primitive("Number", "odd")
def _odd(vm: VM, rcv: Any) -> bool:
    return rcv % 2 == 1


def check_finite(vm: VM, rcv: Any) -> bool:
    if type(rcv) is float and not math.isfinite(rcv):
        vm.signal_error("ArithmeticError", "cannot convert a non-finite Float to an Integer")
        return False
    return True


@primitive("Number", "truncated", "asInteger")
def _truncated(vm: VM, rcv: Any) -> Any:
    return math.trunc(rcv) if check_finite(vm, rcv) else None


@primitive("Number", "rounded")
def _rounded(vm: VM, rcv: Any) -> Any:
    if not check_finite(vm, rcv):
        return None
    half = math.copysign(0.5, rcv) if type(rcv) is float else Fraction((rcv > 0) - (rcv < 0), 2)
    return math.trunc(rcv + half)


@primitive("Number", "floor")
def _floor(vm: VM, rcv: Any) -> Any:
    return math.floor(rcv) if check_finite(vm, rcv) else None


@primitive("Number", "ceiling")
def _ceiling(vm: VM, rcv: Any) -> Any:
    return math.ceil(rcv) if check_finite(vm, rcv) else None


@primitive("Number", "roundTo:")
def _round_to(vm: VM, rcv: Any, quantum: Any) -> Any:
    if not is_number(quantum) or quantum == 0:
        return zero_divide(vm, rcv)
    return normalize(
        _rounded(
            vm,
            rcv / quantum
            if type(quantum) is float or type(rcv) is float
            else Fraction(rcv) / Fraction(quantum),
        )
        * quantum
    )


@primitive("Number", "truncateTo:")
def _truncate_to(vm: VM, rcv: Any, quantum: Any) -> Any:
    if not is_number(quantum) or quantum == 0:
        return zero_divide(vm, rcv)
    return normalize(_quo(rcv, quantum) * quantum)


@primitive("Number", "fractionPart")
def _fraction_part(vm: VM, rcv: Any) -> Any:
    return normalize(rcv - math.trunc(rcv)) if type(rcv) is not float else rcv - math.trunc(rcv)


@primitive("Number", "integerPart")
def _integer_part(vm: VM, rcv: Any) -> Any:
    return float(math.trunc(rcv)) if type(rcv) is float else math.trunc(rcv)


@primitive("Number", "asFloat")
def _as_float(vm: VM, rcv: Any) -> Any:
    try:
        return float(rcv)
    except OverflowError:
        return math.inf if rcv > 0 else -math.inf


@primitive("Number", "asNumber")
def _as_number(vm: VM, rcv: Any) -> Any:
    return rcv


@primitive("Number", "@")
def _at(vm: VM, rcv: Any, y: Any) -> Obj:
    return make_point(vm, rcv, y)


@primitive("Number", "asPoint")
def _as_point(vm: VM, rcv: Any) -> Obj:
    return make_point(vm, rcv, rcv)


@primitive("Number", "to:")
def _to(vm: VM, rcv: Any, stop: Any) -> Obj:
    return Obj(vm.classes["Interval"], [], (rcv, stop, 1))


@primitive("Number", "to:by:")
def _to_by(vm: VM, rcv: Any, stop: Any, step: Any) -> Any:
    if step == 0:
        return vm.signal_error("Error", "step must not be zero")
    return Obj(vm.classes["Interval"], [], (rcv, stop, step))


@primitive("Number", "to:do:")
def _to_do(vm: VM, rcv: Any, stop: Any, block: Block) -> Any:
    return _to_by_do(vm, rcv, stop, 1, block)


@primitive("Number", "to:by:do:")
def _to_by_do(vm: VM, rcv: Any, stop: Any, step: Any, block: Block) -> Any:
    vm.check_loop_bounds(rcv, stop, step)
    i = rcv
    while (i <= stop) if step > 0 else (i >= stop):
        block.call(i)
        i += step
    return rcv


@primitive("Integer", "timesRepeat:")
def _times_repeat(vm: VM, rcv: int, block: Block) -> int:
    for _ in range(rcv):
        block.call()
    return rcv


@primitive("Number", "printString:", "printStringBase:", "radix:")
def _print_base(vm: VM, rcv: Any, base: int) -> StString:
    return StString(_in_base(rcv, base) if type(rcv) is int else print_string(vm, rcv))


def _in_base(n: int, base: int) -> str:
    if n == 0:
        return "0"
    digits = []
    m = abs(n)
    while m:
        m, d = divmod(m, base)
        digits.append(_DIGITS[d])
    return ("-" if n < 0 else "") + "".join(reversed(digits))


@primitive("Integer", "printStringHex")
def _print_hex(vm: VM, rcv: int) -> StString:
    return StString(_in_base(rcv, 16))


@primitive("Integer", "asStringWithCommas")
def _with_commas(vm: VM, rcv: int) -> StString:
    return StString(f"{rcv:,}")


@primitive("Integer", "printStringRadix:", "storeString:")
def _print_radix(vm: VM, rcv: int, base: int) -> StString:
    sign = "-" if rcv < 0 else ""
    return StString(f"{sign}{base}r{_in_base(abs(rcv), base)}")


@primitive("Integer", "atRandom")
def _at_random(vm: VM, rcv: int) -> Any:
    if rcv < 1:
        return vm.signal_error("Error", "atRandom needs a positive integer")
    return vm.random.randint(1, rcv)


@primitive("Number", "to:collect:")
def _to_collect(vm: VM, rcv: Any, stop: Any, block: Block) -> Any:
    from stui.image.smalltalk.objects import range_items

    return vm.new_array([block.call(x) for x in range_items((rcv, stop, 1))])


@primitive("Random class", "seed:")
def _random_seed(vm: VM, cls: StClass, seed: Any) -> Obj:
    return Obj(cls, [], random_module.Random(seed))


@primitive("Random", "initialize")
def _random_initialize(vm: VM, rcv: Obj) -> Obj:
    rcv.data = random_module.Random(vm.random.random())
    return rcv


@primitive("Random", "next")
def _random_next(vm: VM, rcv: Obj) -> float:
    return float(rcv.data.random())


@primitive("Random", "nextInt:")
def _random_next_int(vm: VM, rcv: Obj, n: int) -> int:
    return int(rcv.data.randint(1, n))


@primitive("Random", "between:and:")
def _random_between(vm: VM, rcv: Obj, low: int, high: int) -> int:
    return int(rcv.data.randint(low, high))


@primitive("Integer", "printPaddedWith:to:")
def _print_padded(vm: VM, rcv: int, pad: Char, width: int) -> StString:
    text = int_text(abs(rcv)).rjust(width - (1 if rcv < 0 else 0), pad.ch)
    return StString(("-" if rcv < 0 else "") + text)


@primitive("Integer", "printString:paddedWith:", "printPaddedWith:to:base:")
def _print_base_padded(vm: VM, rcv: int, a: Any, b: Any, c: Any = None) -> StString:
    if c is None:
        return StString(_in_base(rcv, a).rjust(0, b.ch))
    return StString(_in_base(rcv, c).rjust(b, a.ch))


@primitive("Float", "printShowingDecimalPlaces:", "printShowingMaxDecimalPlaces:")
def _float_decimals(vm: VM, rcv: Any, places: int) -> StString:
    return StString(f"{rcv:.{places}f}")


@primitive("Number", "printShowingDecimalPlaces:")
def _number_decimals(vm: VM, rcv: Any, places: int) -> StString:
    return StString(f"{float(rcv):.{places}f}")


@primitive("Number", "isNaN")
def _is_nan(vm: VM, rcv: Any) -> bool:
    return type(rcv) is float and math.isnan(rcv)


@primitive("Number", "isInfinite")
def _is_infinite(vm: VM, rcv: Any) -> bool:
    return type(rcv) is float and math.isinf(rcv)


@primitive("Number", "isFinite")
def _is_finite(vm: VM, rcv: Any) -> bool:
    return type(rcv) is not float or math.isfinite(rcv)


@primitive("Number", "degreesToRadians")
def _deg_to_rad(vm: VM, rcv: Any) -> float:
    return math.radians(rcv)
