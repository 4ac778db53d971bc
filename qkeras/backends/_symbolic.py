"""Sympy expressions of a circuit's symbols, translated once into TensorFlow.

A gate parameter such as ``x0/pi`` or ``(pi - x0)*(pi - x1)`` becomes a function of the
symbol-values tensor ``(batch, n_symbols)`` that returns ``(batch,)`` values (``float32``,
or ``complex64`` where the expression involves ``I``). The expression tree is walked
once, here; the returned function only emits TensorFlow ops.

Example:
    >>> import sympy, tensorflow as tf
    >>> x0, x1 = sympy.symbols("x0 x1")
    >>> f = translate(2 * x0 - sympy.cos(x1), [x0, x1])
    >>> f(tf.constant([[1.0, 0.0]])).numpy()
    array([1.], dtype=float32)
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import sympy
import tensorflow as tf

from qkeras.errors import ConfigurationError

__all__ = ["translate", "linear_form", "SUPPORTED_FUNCTIONS"]

Function = Callable[[tf.Tensor], tf.Tensor]

_FUNCTIONS = {
    sympy.sin: tf.sin, sympy.cos: tf.cos, sympy.tan: tf.tan, sympy.exp: tf.exp,
    sympy.log: tf.math.log, sympy.asin: tf.asin, sympy.acos: tf.acos, sympy.atan: tf.atan,
    sympy.sinh: tf.sinh, sympy.cosh: tf.cosh, sympy.tanh: tf.tanh, sympy.Abs: tf.abs,
    sympy.sign: tf.sign, sympy.re: tf.math.real, sympy.im: tf.math.imag,
    sympy.conjugate: tf.math.conj,
}

#: Names of the sympy functions a parameter expression may use.
SUPPORTED_FUNCTIONS = tuple(sorted(f.__name__ for f in _FUNCTIONS))


def _promote(a: tf.Tensor, b: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
    if a.dtype == b.dtype:
        return a, b
    return tf.cast(a, tf.complex64), tf.cast(b, tf.complex64)


def _number(value: complex) -> Function:
    value = complex(value)
    if value.imag == 0:
        return lambda v: tf.fill(tf.shape(v)[:1], tf.constant(value.real, tf.float32))
    return lambda v: tf.fill(tf.shape(v)[:1], tf.constant(value, tf.complex64))


def _fold(parts: list[Function], op) -> Function:
    def run(v: tf.Tensor) -> tf.Tensor:
        out = parts[0](v)
        for part in parts[1:]:
            out = op(*_promote(out, part(v)))
        return out

    return run


def _pow(base: Function, exponent: Function) -> Function:
    return lambda v: tf.pow(*_promote(base(v), exponent(v)))


def _walk(expr: sympy.Expr, index: dict[str, int]) -> Function:
    if expr.is_number:
        return _number(complex(expr.evalf()))
    if isinstance(expr, sympy.Symbol):
        column = index[expr.name]
        return lambda v: v[:, column]
    args = [_walk(arg, index) for arg in expr.args]
    if isinstance(expr, sympy.Add):
        return _fold(args, tf.add)
    if isinstance(expr, sympy.Mul):
        return _fold(args, tf.multiply)
    if isinstance(expr, sympy.Pow):
        return _pow(*args)
    function = _FUNCTIONS.get(expr.func)
    if function is None or len(args) != 1:
        raise ConfigurationError(
            f"Cannot translate the gate parameter {expr} to TensorFlow: {expr.func} is not "
            f"supported. Use +, -, *, /, ** and {', '.join(SUPPORTED_FUNCTIONS)}, or resolve "
            "that parameter (cirq.resolve_parameters) before building the simulator."
        )
    inner = args[0]
    return lambda v: function(inner(v))


def translate(expr: sympy.Expr | float, symbols: Sequence[sympy.Symbol]) -> Function:
    """Translates a sympy expression of ``symbols`` into a TensorFlow function.

    Args:
        expr: The expression (or a plain number).
        symbols: The symbols, in the column order of the values tensor.

    Returns:
        A function ``values (batch, len(symbols)) float32 -> (batch,)`` tensor, ``float32``
        for real expressions and ``complex64`` for expressions with ``I``.

    Raises:
        ConfigurationError: If the expression uses a symbol not in ``symbols`` or a
            function with no TensorFlow counterpart.

    Example:
        >>> import sympy, tensorflow as tf
        >>> x = sympy.Symbol("x")
        >>> translate(x / sympy.pi, [x])(tf.constant([[3.14159265]])).numpy().round(4)
        array([1.], dtype=float32)
    """
    expr = sympy.sympify(expr)
    index = {str(symbol): column for column, symbol in enumerate(symbols)}
    unknown = sorted(str(s) for s in expr.free_symbols if str(s) not in index)
    if unknown:
        raise ConfigurationError(
            f"The gate parameter {expr} uses symbols {unknown} that are not among the "
            "simulator's symbols; pass them in `symbols`."
        )
    return _walk(expr, index)


def linear_form(expr: sympy.Expr, symbols: Sequence[sympy.Symbol],
                ) -> tuple[list[float], float] | None:
    """Coefficients and bias of ``expr`` if it is real and affine in ``symbols``, else None.

    Affine parameters (``x/pi``, ``2*w - 0.5``) are evaluated together, as one matrix
    product with the symbol values.

    Example:
        >>> import sympy
        >>> x, y = sympy.symbols("x y")
        >>> linear_form(2 * x - 0.5, [x, y]), linear_form(x * y, [x, y])
        (([2.0, 0.0], -0.5), None)
    """
    expr = sympy.sympify(expr)
    names = [str(s) for s in symbols]
    coefficients = [0.0] * len(names)
    numbers = []
    for symbol in expr.free_symbols:
        slope = sympy.diff(expr, symbol)
        if not slope.is_number:
            return None
        numbers.append(complex(slope))
        coefficients[names.index(str(symbol))] = numbers[-1].real
    numbers.append(complex(expr.subs({s: 0 for s in expr.free_symbols})))
    if any(v.imag for v in numbers):
        return None
    return coefficients, numbers[-1].real
