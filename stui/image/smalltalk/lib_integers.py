"""Integer-only protocol (factorial, gcd:, isPrime, bit operations...), Fraction and Float class-side
constants and conversions.
"""

from __future__ import annotations

import math
import operator
from fractions import Fraction
from typing import TYPE_CHECKING, Any

from stui.image.smalltalk.lib_kernel import as_text
from stui.image.smalltalk.lib_numbers import adapt, check_finite, normalize, zero_divide
from stui.image.smalltalk.library import primitive
from stui.image.smalltalk.objects import Char, StClass, StString
from stui.image.smalltalk.printing import int_text
from stui.image.smalltalk.runtime import SMALL_MAX, SMALL_MIN

if TYPE_CHECKING:
    from stui.image.smalltalk.runtime import VM

__all__ = ()


# -- Integer -------------------------------------------------------------------------------------------


def _integer_op(selector: str, op: Any) -> Any:
    """A primitive for an Integer operation on an Integer argument; any other argument is adapted
    (``adaptToInteger:andSend:``) and its answer is the primitive's answer."""

    def integer_op(vm: VM, rcv: int, arg: Any) -> Any:
        if type(arg) is not int:
            return adapt(vm, rcv, arg, selector)
        return op(rcv, arg)

    return integer_op


@primitive("Integer", "factorial")
def _factorial(vm: VM, rcv: int) -> Any:
    if rcv < 0:
        return vm.signal_error("Error", "Not valid for negative integers")
    if rcv > 20000:
        return vm.signal_error("Error", "factorial too large for this image")
    return math.factorial(rcv)


primitive("Integer", "gcd:")(_integer_op("gcd:", math.gcd))
primitive("Integer", "lcm:")(_integer_op("lcm:", math.lcm))


@primitive("Integer", "isPrime")
def _is_prime(vm: VM, rcv: int) -> bool:
    if rcv < 2:
        return False
    if rcv < 4:
        return True
    if rcv % 2 == 0:
        return False
    if rcv < 10**12:
        return all(rcv % d for d in range(3, math.isqrt(rcv) + 1, 2))
    for a in (
        2,
        3,
        5,
        7,
        11,
        13,
        17,
        19,
        23,
        29,
        31,
        37,
    ):  # deterministic Miller-Rabin below 3.3e24
        if a % rcv == 0:
            continue
        d, s = rcv - 1, 0
        while d % 2 == 0:
            d, s = d // 2, s + 1
        x = pow(a, d, rcv)
        if x in (1, rcv - 1):
            continue
        for _ in range(s - 1):
            x = x * x % rcv
            if x == rcv - 1:
                break
        else:
            return False
    return True


primitive("Integer", "bitAnd:")(_integer_op("bitAnd:", operator.and_))
primitive("Integer", "bitOr:")(_integer_op("bitOr:", operator.or_))
primitive("Integer", "bitXor:")(_integer_op("bitXor:", operator.xor))
primitive("Integer", "bitShift:")(
    _integer_op("bitShift:", lambda a, b: a << b if b >= 0 else a >> -b)
)


@primitive("Integer", "<<")
def _shift_left(vm: VM, rcv: int, arg: int) -> int:
    return rcv << arg


@primitive("Integer", ">>")
def _shift_right(vm: VM, rcv: int, arg: int) -> int:
    return rcv >> arg


@primitive("Integer", "bitAt:")
def _bit_at(vm: VM, rcv: int, index: int) -> int:
    return (rcv >> (index - 1)) & 1


@primitive("Integer", "highBit")
def _high_bit(vm: VM, rcv: int) -> int:
    return rcv.bit_length()


@primitive("Integer", "isPowerOfTwo")
def _is_power_of_two(vm: VM, rcv: int) -> bool:
    return rcv > 0 and rcv & (rcv - 1) == 0


@primitive("Integer", "asCharacter")
def _as_character(vm: VM, rcv: int) -> Any:
    if not 0 <= rcv <= 0x10FFFF:
        return vm.signal_error("Error", f"{rcv} is not a valid code point")
    return Char(chr(rcv))


@primitive("Integer", "numberOfDigits")
def _number_of_digits(vm: VM, rcv: int) -> int:
    return len(int_text(abs(rcv)))


@primitive("Integer", "numerator")
def _int_numerator(vm: VM, rcv: int) -> int:
    return rcv


@primitive("Integer", "denominator")
def _int_denominator(vm: VM, rcv: int) -> int:
    return 1


@primitive("Integer", "asFraction")
def _int_as_fraction(vm: VM, rcv: int) -> int:
    return rcv


@primitive("Integer", "digitLength", "bytesCount")
def _digit_length(vm: VM, rcv: int) -> int:
    return max(1, (abs(rcv).bit_length() + 7) // 8)


@primitive("Integer", "asWords")
def _as_words(vm: VM, rcv: int) -> StString:
    return StString(int_text(rcv))


# -- Fraction, Float -----------------------------------------------------------------------------------


@primitive("Fraction", "numerator")
def _numerator(vm: VM, rcv: Fraction) -> int:
    return rcv.numerator


@primitive("Fraction", "denominator")
def _denominator(vm: VM, rcv: Fraction) -> int:
    return rcv.denominator


@primitive("Fraction class", "numerator:denominator:")
def _fraction_new(vm: VM, cls: StClass, n: int, d: int) -> Any:
    if d == 0:
        return zero_divide(vm, n)
    return normalize(Fraction(n, d))


@primitive("Float", "asFraction", "asExactFraction", "asTrueFraction")
def _float_as_fraction(vm: VM, rcv: float) -> Any:
    return normalize(Fraction(rcv)) if check_finite(vm, rcv) else None


@primitive("Float class", "pi")
def _pi(vm: VM, cls: StClass) -> float:
    return math.pi


@primitive("Float class", "e")
def _e(vm: VM, cls: StClass) -> float:
    return math.e


@primitive("Float class", "infinity")
def _infinity(vm: VM, cls: StClass) -> float:
    return math.inf


@primitive("Float class", "negativeInfinity")
def _negative_infinity(vm: VM, cls: StClass) -> float:
    return -math.inf


@primitive("Float class", "nan")
def _nan(vm: VM, cls: StClass) -> float:
    return math.nan


@primitive("SmallInteger class", "maxVal")
def _max_val(vm: VM, cls: StClass) -> int:
    return SMALL_MAX


@primitive("SmallInteger class", "minVal")
def _min_val(vm: VM, cls: StClass) -> int:
    return SMALL_MIN


@primitive("Number class", "readFrom:")
def _read_from(vm: VM, cls: StClass, text: Any) -> Any:
    from stui.image.smalltalk.lib_text import parse_number

    value = parse_number(as_text(vm, text))
    return value if value is not None else vm.signal_error("Error", "Reading a number failed")
