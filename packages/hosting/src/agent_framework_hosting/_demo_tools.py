"""The demo agent's tools: the host's clock and a safe arithmetic evaluator."""

from __future__ import annotations

import ast
import math
import operator
from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Any

from agent_framework import tool

MAX_EXPRESSION_CHARS = 200
MAX_RESULT_DIGITS = 1000

_BINARY: dict[type[ast.operator], Callable[[Any, Any], Any]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv,
    ast.Mod: operator.mod,
    ast.Pow: operator.pow,
}
_UNARY: dict[type[ast.unaryop], Callable[[Any], Any]] = {ast.UAdd: operator.pos, ast.USub: operator.neg}


def _power(base: Any, exponent: Any) -> Any:
    """`base ** exponent`, refusing results too large to print."""
    if base not in (0, 1, -1) and abs(exponent * math.log10(abs(base))) > MAX_RESULT_DIGITS:
        raise ValueError("the result would be too large")
    return base**exponent


def _evaluate(node: ast.AST) -> Any:
    if isinstance(node, ast.Expression):
        return _evaluate(node.body)
    if isinstance(node, ast.Constant) and type(node.value) in (int, float):
        return node.value
    if isinstance(node, ast.UnaryOp) and type(node.op) in _UNARY:
        return _UNARY[type(node.op)](_evaluate(node.operand))
    if isinstance(node, ast.BinOp) and type(node.op) in _BINARY:
        left, right = _evaluate(node.left), _evaluate(node.right)
        if isinstance(node.op, ast.Pow):
            return _power(left, right)
        result = _BINARY[type(node.op)](left, right)
        if isinstance(result, int) and result.bit_length() > MAX_RESULT_DIGITS * 3.33:
            raise ValueError("the result would be too large")
        return result
    raise ValueError("only numbers, + - * / // % ** and parentheses are allowed")


def evaluate_arithmetic(expression: str) -> int | float:
    """Evaluate plain arithmetic (no names, no calls); raises ValueError or ArithmeticError."""
    if len(expression) > MAX_EXPRESSION_CHARS:
        raise ValueError(f"the expression is longer than {MAX_EXPRESSION_CHARS} characters")
    try:
        tree = ast.parse(expression.strip(), mode="eval")
    except SyntaxError:
        raise ValueError("that is not an arithmetic expression") from None
    result = _evaluate(tree)
    if isinstance(result, complex):
        raise ValueError("the result is not a real number")
    if isinstance(result, float) and result.is_integer() and abs(result) < 1e15:
        return int(result)
    return result  # type: ignore[no-any-return]


def format_number(value: int | float) -> str:
    if isinstance(value, float):
        return f"{value:.10g}"
    return str(value)


@tool(name="calculate", description="Evaluate an arithmetic expression such as '(12 + 3) * 7' or '2 ** 10'.")
def calculate(expression: Annotated[str, "The arithmetic expression, using + - * / // % ** and parentheses."]) -> str:
    try:
        return format_number(evaluate_arithmetic(expression))
    except (ValueError, ArithmeticError) as error:
        return f"error: {error}"


@tool(name="current_time", description="The current date and time on the host, with its UTC offset.")
def current_time() -> str:
    now = datetime.now().astimezone()
    offset = now.strftime("%z")
    return now.strftime("%H:%M on %A, %d %B %Y") + f" (UTC{offset[:3]}:{offset[3:]})"


DEMO_TOOLS = (current_time, calculate)
