"""Recursive-descent parser: one method per grammar rule, the rule in its docstring.

Two entry points: :func:`parse_doit` for workspace code (temporaries and statements) and
:func:`parse_method` for ``compile:`` (a message pattern first). Errors use Pharo's wording
("Argument expected", "')' expected", "Nothing more expected", ...) and a 0-based offset.
"""

from __future__ import annotations

from stui.image.smalltalk.ast import (
    ArrayLit,
    Assign,
    BlockNode,
    BraceArray,
    ByteArrayLit,
    Cascade,
    CharLit,
    Expr,
    Literal,
    LiteralValue,
    MethodNode,
    Return,
    Send,
    Statement,
    StrLit,
    SymLit,
    Variable,
)
from stui.image.smalltalk.errors import SmalltalkSyntaxError
from stui.image.smalltalk.lexer import Token, TokenKind, tokenize

__all__ = ("Parser", "parse_doit", "parse_method")

K = TokenKind


def parse_doit(source: str) -> MethodNode:
    """Parse workspace code into a ``DoIt`` method node.

    Raises:
        SmalltalkSyntaxError: with Pharo's message and the offset of the problem.
    """
    return Parser(source).doit()


def parse_method(source: str) -> MethodNode:
    """Parse a method definition (pattern, temporaries, pragmas, statements).

    Raises:
        SmalltalkSyntaxError: with Pharo's message and the offset of the problem.
    """
    return Parser(source).method()


class Parser:
    """A parser over one source text."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.tokens = tokenize(source)
        self.i = 0

    # -- helpers ---------------------------------------------------------------------------------

    @property
    def tok(self) -> Token:
        """The current token."""
        return self.tokens[self.i]

    def advance(self) -> Token:
        """Consume the current token and return it (EOF is never consumed)."""
        t = self.tokens[self.i]
        if t.kind is not K.EOF:
            self.i += 1
        return t

    def at(self, kind: TokenKind, value: object = None) -> bool:
        """True if the current token is of *kind* (and has *value*, when given).

        The rules on every expression's path test ``self.tokens[self.i].kind`` themselves: this
        call was a fifth of the parse of a typical do-it.
        """
        t = self.tokens[self.i]
        return t.kind is kind and (value is None or t.value == value)

    def expect(self, kind: TokenKind, message: str) -> Token:
        """Consume a token of *kind* or raise *message* at the current token."""
        if self.tok.kind is not kind:
            raise self.error(message)
        return self.advance()

    def error(self, message: str, position: int | None = None) -> SmalltalkSyntaxError:
        """A positioned syntax error (returned, so call sites read ``raise self.error(...)``)."""
        return SmalltalkSyntaxError(message, self.tok.start if position is None else position)

    # -- top level ----------------------------------------------------------------------------------

    def doit(self) -> MethodNode:
        """doit : temporaries? statements EOF"""
        temps = self.temporaries()
        body = self.statements()
        if not self.at(K.EOF):
            raise self.error("Nothing more expected")
        return MethodNode("DoIt", (), temps, body, self.source, (0, len(self.source)))

    def method(self) -> MethodNode:
        """method : pattern temporaries? pragma* statements EOF"""
        selector, params = self.pattern()
        self.pragmas()
        temps = self.temporaries()
        self.pragmas()
        body = self.statements()
        if not self.at(K.EOF):
            raise self.error("Nothing more expected")
        return MethodNode(selector, params, temps, body, self.source, (0, len(self.source)))

    def pattern(self) -> tuple[str, tuple[str, ...]]:
        """pattern : IDENT | binop IDENT | (KEYWORD IDENT)+"""
        t = self.tok
        if t.kind is K.IDENTIFIER:
            self.advance()
            return str(t.value), ()
        if t.kind in (K.BINARY, K.BAR):
            self.advance()
            arg = self.expect(K.IDENTIFIER, "Argument name expected")
            return str(t.value), (str(arg.value),)
        if t.kind is K.KEYWORD:
            parts, params = [], []
            while self.at(K.KEYWORD):
                parts.append(str(self.advance().value))
                params.append(str(self.expect(K.IDENTIFIER, "Argument name expected").value))
            return "".join(parts), tuple(params)
        raise self.error("Message pattern expected")

    def pragmas(self) -> None:
        """pragma : '<' (IDENT | (KEYWORD literal)+) '>'   (read and ignored)"""
        while self.at(K.BINARY, "<"):
            self.advance()
            while not self.at(K.BINARY, ">"):
                if self.at(K.EOF):
                    raise self.error("'>' expected")
                self.advance()
            self.advance()

    def temporaries(self) -> tuple[str, ...]:
        """temporaries : '|' IDENT* '|'"""
        kind = self.tokens[self.i].kind
        if kind is not K.BAR and kind is not K.BINARY:
            return ()
        if self.at(K.BINARY, "||"):
            self.advance()
            return ()
        if not self.at(K.BAR):
            return ()
        self.advance()
        names = []
        while self.at(K.IDENTIFIER):
            names.append(str(self.advance().value))
        self.expect(K.BAR, "Vertical bar expected")
        return tuple(names)

    def statements(self) -> tuple[Statement, ...]:
        """statements : (statement ('.'+ statement)*)? '.'*"""
        stmts: list[Statement] = []
        tokens = self.tokens
        while tokens[self.i].kind is K.PERIOD:
            self.i += 1
        while tokens[self.i].kind not in _STATEMENTS_END:
            stmts.append(self.statement())
            if tokens[self.i].kind is not K.PERIOD:
                break
            while tokens[self.i].kind is K.PERIOD:
                self.i += 1
        return tuple(stmts)

    def statement(self) -> Statement:
        """statement : '^' expression | expression"""
        if self.tokens[self.i].kind is K.CARET:
            start = self.advance().start
            value = self.expression()
            return Return(value, (start, value.span[1]))
        return self.expression()

    # -- expressions --------------------------------------------------------------------------------

    def expression(self) -> Expr:
        """expression : IDENT ':=' expression | cascade"""
        t = self.tokens[self.i]
        if t.kind is K.IDENTIFIER and self.tokens[self.i + 1].kind is K.ASSIGN:
            self.i += 2
            value = self.expression()
            return Assign(str(t.value), value, (t.start, value.span[1]))
        return self.cascade()

    def cascade(self) -> Expr:
        """cascade : keyword_send (';' message)*"""
        first = self.keyword_send()
        if self.tokens[self.i].kind is not K.SEMICOLON:
            return first
        if not isinstance(first, Send):
            raise self.error("Message expected")
        messages = [(first.selector, first.args)]
        end = first.span[1]
        while self.at(K.SEMICOLON):
            self.advance()
            selector, args, end = self.message()
            messages.append((selector, args))
        return Cascade(first.receiver, tuple(messages), (first.span[0], end))

    def message(self) -> tuple[str, tuple[Expr, ...], int]:
        """message : IDENT | binop unary_send | (KEYWORD binary_send)+"""
        t = self.tok
        if t.kind is K.IDENTIFIER:
            self.advance()
            return str(t.value), (), t.end
        if t.kind in (K.BINARY, K.BAR):
            self.advance()
            arg = self.unary_send_or_error()
            return str(t.value), (arg,), arg.span[1]
        if t.kind is K.KEYWORD:
            parts, args = [], []
            while self.at(K.KEYWORD):
                parts.append(str(self.advance().value))
                args.append(self.binary_send_or_error())
            return "".join(parts), tuple(args), args[-1].span[1]
        raise self.error("Message expected")

    def keyword_send(self) -> Expr:
        """keyword_send : binary_send (KEYWORD binary_send)*"""
        receiver = self.binary_send()
        if self.tokens[self.i].kind is not K.KEYWORD:
            return receiver
        parts, args = [], []
        while self.at(K.KEYWORD):
            parts.append(str(self.advance().value))
            args.append(self.binary_send_or_error())
        return Send(receiver, "".join(parts), tuple(args), (receiver.span[0], args[-1].span[1]))

    def binary_send_or_error(self) -> Expr:
        """A keyword argument: ``Argument expected`` if none starts here."""
        if not self.starts_primary():
            raise self.error("Argument expected")
        return self.binary_send()

    def binary_send(self) -> Expr:
        """binary_send : unary_send (binop unary_send)*"""
        receiver = self.unary_send()
        tokens = self.tokens
        while tokens[self.i].kind in _BINARY_OPERATORS:
            op = str(self.advance().value)
            arg = self.unary_send_or_error()
            receiver = Send(receiver, op, (arg,), (receiver.span[0], arg.span[1]))
        return receiver

    def unary_send_or_error(self) -> Expr:
        """A binary argument: ``Argument expected`` if none starts here."""
        if not self.starts_primary():
            raise self.error("Argument expected")
        return self.unary_send()

    def unary_send(self) -> Expr:
        """unary_send : primary IDENT*"""
        receiver = self.primary()
        tokens = self.tokens
        while (t := tokens[self.i]).kind is K.IDENTIFIER:
            self.i += 1
            receiver = Send(receiver, str(t.value), (), (receiver.span[0], t.end))
        return receiver

    def starts_primary(self) -> bool:
        """True if a primary (operand) starts at the current token."""
        if self.tokens[self.i].kind in _PRIMARY_START:
            return True
        return self.negative_number_ahead()

    def negative_number_ahead(self) -> bool:
        """True for ``-`` immediately followed by a number: a negative literal."""
        t = self.tok
        if t.kind is not K.BINARY or self.i + 1 >= len(self.tokens):
            return False
        nxt = self.tokens[self.i + 1]
        return t.kind is K.BINARY and t.value == "-" and nxt.kind is K.NUMBER and not nxt.spaced

    def primary(self) -> Expr:
        """primary : literal | IDENT | block | '(' expression ')' | '{' statements '}'"""
        t = self.tokens[self.i]
        kind = t.kind
        if kind is K.IDENTIFIER:  # the commonest, ahead of the match
            self.i += 1
            name = str(t.value)
            if name in _CONSTANTS:
                return Literal(_CONSTANTS[name], (t.start, t.end))
            return Variable(name, (t.start, t.end))
        if kind is K.NUMBER:
            self.i += 1
            return Literal(t.value, (t.start, t.end))  # type: ignore[arg-type]
        match kind:  # identifiers and numbers were answered above
            case K.STRING | K.SYMBOL | K.CHARACTER | K.LITERAL_ARRAY | K.BYTE_ARRAY:
                start = t.start
                value = self.literal_value()
                return Literal(value, (start, self.tokens[self.i - 1].end))
            case K.LBRACKET:
                return self.block()
            case K.LPAREN:
                self.advance()
                if not self.starts_primary():
                    raise self.error("Variable or expression expected")
                inner = self.expression()
                self.expect(K.RPAREN, "')' expected")
                return inner
            case K.LBRACE:
                start = self.advance().start
                items = self.statements()
                end = self.expect(K.RBRACE, "Period or right brace expected").end
                for item in items:
                    if isinstance(item, Return):
                        raise SmalltalkSyntaxError("Unexpected ^ in brace array", item.span[0])
                return BraceArray(tuple(items), (start, end))  # type: ignore[arg-type]
            case _:
                if self.negative_number_ahead():
                    start = self.advance().start
                    value = self.advance().value
                    return Literal(-value, (start, self.tokens[self.i - 1].end))  # type: ignore[operator]
                raise self.error("Variable or expression expected")

    def block(self) -> BlockNode:
        """block : '[' ((':' IDENT)+ ('|' | ']'))? temporaries? statements ']'"""
        start = self.advance().start
        params: list[str] = []
        while self.at(K.COLON):
            self.advance()
            params.append(str(self.expect(K.IDENTIFIER, "Argument name expected").value))
        temps: tuple[str, ...] = ()
        if params:
            if self.at(K.BAR):
                self.advance()
            elif self.at(K.BINARY, "||"):
                self.advance()
                temps = self.temp_names_then_bar()
            elif not self.at(K.RBRACKET):
                raise self.error("Vertical bar expected")
        if not temps:
            temps = self.temporaries()
        body = self.statements()
        end = self.expect(K.RBRACKET, "']' expected").end
        return BlockNode(tuple(params), temps, body, (start, end))

    def temp_names_then_bar(self) -> tuple[str, ...]:
        """The temporaries after ``[:x ||`` (the ``||`` lexed as one binary token)."""
        names = []
        while self.at(K.IDENTIFIER):
            names.append(str(self.advance().value))
        self.expect(K.BAR, "Vertical bar expected")
        return tuple(names)

    # -- literals -----------------------------------------------------------------------------------

    def literal_value(self) -> LiteralValue:
        """literal : NUMBER | STRING | SYMBOL | CHARACTER | '#(' array_item* ')' | '#[' byte* ']'"""
        t = self.advance()
        match t.kind:
            case K.NUMBER:
                return t.value  # type: ignore[return-value]
            case K.STRING:
                return StrLit(str(t.value))
            case K.SYMBOL:
                return SymLit(str(t.value))
            case K.CHARACTER:
                return CharLit(str(t.value))
            case K.LITERAL_ARRAY:
                return self.array_items()
            case K.BYTE_ARRAY:
                data = []
                while self.at(K.NUMBER):
                    v = self.advance().value
                    if not isinstance(v, int) or not 0 <= v <= 255:
                        raise self.error("8-bit integer expected", self.tokens[self.i - 1].start)
                    data.append(v)
                self.expect(K.RBRACKET, "8-bit integer or right bracket expected")
                return ByteArrayLit(bytes(data))
            case _:
                raise self.error("Literal expected", t.start)

    def array_items(self) -> ArrayLit:
        """array_item : literal | IDENT | KEYWORD+ | binop | '(' array_item* ')' | '[' ... ']'"""
        items: list[LiteralValue] = []
        while True:
            t = self.tok
            match t.kind:
                case K.RPAREN:
                    self.advance()
                    return ArrayLit(tuple(items))
                case K.EOF:
                    raise self.error("')' expected")
                case K.LPAREN:
                    self.advance()
                    items.append(self.array_items())
                case K.IDENTIFIER:
                    self.advance()
                    name = str(t.value)
                    items.append(_CONSTANTS[name] if name in _CONSTANTS else SymLit(name))
                case K.KEYWORD:
                    parts = [str(self.advance().value)]
                    while self.at(K.KEYWORD) and not self.tok.spaced:
                        parts.append(str(self.advance().value))
                    items.append(SymLit("".join(parts)))
                case K.BINARY | K.BAR:
                    if self.negative_number_ahead():
                        self.advance()
                        items.append(-self.advance().value)  # type: ignore[operator]
                    else:
                        self.advance()
                        items.append(SymLit(str(t.value)))
                case K.LBRACE | K.LBRACKET:
                    raise self.error("Literal expected")
                case _:
                    items.append(self.literal_value())


_CONSTANTS: dict[str, LiteralValue] = {"nil": None, "true": True, "false": False}
# Tuples, not frozensets: `in` on a tuple compares enum members by identity, while hashing one runs
# Enum.__hash__ in Python.
_PRIMARY_START = (
    K.IDENTIFIER,
    K.NUMBER,
    K.STRING,
    K.SYMBOL,
    K.CHARACTER,
    K.LITERAL_ARRAY,
    K.BYTE_ARRAY,
    K.LBRACKET,
    K.LPAREN,
    K.LBRACE,
)
_STATEMENTS_END = (K.EOF, K.RBRACKET, K.RBRACE)
_BINARY_OPERATORS = (K.BINARY, K.BAR)
