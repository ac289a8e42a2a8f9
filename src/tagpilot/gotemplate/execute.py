"""Executor for parsed Go templates: a port of text/template/exec.go.

Values flow as Python objects following `values.py`. `MISSING` is Go's invalid reflect.Value;
`_NOFINAL` is Go's `missingVal` (no piped value). A nil interface (`None`) becomes `MISSING` at the
end of each pipeline command, as Go unwraps empty interfaces there, which is why `{{.x}}` prints
`<no value>` both for a missing key and for a JSON null.
"""

from __future__ import annotations

from typing import Any

from tagpilot.gotemplate import parse as p
from tagpilot.gotemplate.errors import FuncError, TemplateError, TemplateExecError
from tagpilot.gotemplate.funcs import NILABLE, GoFunc, go_type_display, wrap_callable
from tagpilot.gotemplate.gofmt import quote, sprint
from tagpilot.gotemplate.limits import DEFAULT_LIMITS, Budget, Limits, activate, deactivate
from tagpilot.gotemplate.values import (
    MISSING,
    go_method,
    is_true,
    kind,
    map_key_type,
    sorted_items,
    type_name,
)


class _NoFinal:
    def __repr__(self) -> str:
        return "NOFINAL"


_NOFINAL: Any = _NoFinal()


class _Break(Exception):
    pass


class _Continue(Exception):
    pass


def _is_hex_int(s: str) -> bool:
    return len(s) > 2 and s[0] == "0" and s[1] in "xX" and not any(c in s for c in "pP")


class State:
    def __init__(self, trees: dict[str, p.Tree], funcs: dict[str, GoFunc], tree: p.Tree, depth: int = 0,
                 budget: Budget | None = None):
        self.trees = trees
        self.funcs = funcs
        self.tree = tree
        self.node: p.Node | None = None
        self.vars: list[list[Any]] = []
        self.depth = depth
        self.out: list[str] = []
        self.budget = budget if budget is not None else Budget(DEFAULT_LIMITS)

    # -- errors
    def errorf(self, msg: str) -> None:
        name = self.tree.name
        if self.node is None:
            raise TemplateExecError(f"template: {name}: {msg}")
        location, context = self.tree.error_context(self.node)
        raise TemplateExecError(f"template: {location}: executing {quote(name)} at <{context}>: {msg}")

    def at(self, node: p.Node) -> None:
        self.node = node

    # -- variables
    def push(self, name: str, value: Any) -> None:
        self.vars.append([name, value])

    def mark(self) -> int:
        return len(self.vars)

    def pop(self, mark: int) -> None:
        del self.vars[mark:]

    def set_var(self, name: str, value: Any) -> None:
        for v in reversed(self.vars):
            if v[0] == name:
                v[1] = value
                return
        self.errorf(f"undefined variable: {name}")

    def set_top_var(self, n: int, value: Any) -> None:
        self.vars[len(self.vars) - n][1] = value

    def var_value(self, name: str) -> Any:
        for v in reversed(self.vars):
            if v[0] == name:
                return v[1]
        self.errorf(f"undefined variable: {name}")
        return MISSING

    # -- output and budget
    def emit(self, text: str) -> None:
        """Append to the output, failing once it passes the byte limit (counted as UTF-8)."""
        budget = self.budget
        budget.size += len(text) if text.isascii() else len(text.encode("utf-8", "surrogatepass"))
        if budget.size > budget.max_output:
            self.errorf(budget.output_message())
        self.out.append(text)

    def over_steps(self, node: p.Node) -> None:
        """Called once the step budget is spent: fail at `node`, unless it is text or a list.

        Those are reported by the next action, branch or range iteration instead (a message
        "at <text>" would not help), which is at most a few nodes later.
        """
        if not isinstance(node, (p.TextNode, p.ListNode)):
            self.at(node)
            self.errorf(self.budget.steps_message())

    # -- walking
    def walk(self, dot: Any, node: p.Node) -> None:
        self.at(node)
        budget = self.budget
        budget.steps += 1
        if budget.steps > budget.max_steps:
            self.over_steps(node)
        if isinstance(node, p.ActionNode):
            val = self.eval_pipeline(dot, node.pipe)
            if not node.pipe.decl:
                self.print_value(node, val)
        elif isinstance(node, p.TextNode):  # emit(), inlined: the most frequent node
            text = node.text
            budget.size += len(text) if text.isascii() else len(text.encode("utf-8", "surrogatepass"))
            if budget.size > budget.max_output:
                self.errorf(budget.output_message())
            self.out.append(text)
        elif isinstance(node, p.ListNode):
            for n in node.nodes:
                self.walk(dot, n)
        elif isinstance(node, p.IfNode):
            self.walk_if_or_with(False, dot, node)
        elif isinstance(node, p.WithNode):
            self.walk_if_or_with(True, dot, node)
        elif isinstance(node, p.RangeNode):
            self.walk_range(dot, node)
        elif isinstance(node, p.TemplateNode):
            self.walk_template(dot, node)
        elif isinstance(node, p.BreakNode):
            raise _Break
        elif isinstance(node, p.ContinueNode):
            raise _Continue
        elif isinstance(node, p.CommentNode):
            pass
        else:
            self.errorf(f"unknown node: {node}")

    def walk_if_or_with(self, is_with: bool, dot: Any, node: p.BranchNode) -> None:
        mark = self.mark()
        try:
            val = self.eval_pipeline(dot, node.pipe)
            truth, ok = is_true(val)
            if not ok:
                self.errorf(f"if/with can't use {sprint(val)}")
            if truth:
                self.walk(val if is_with else dot, node.list)
            elif node.else_list is not None:
                self.walk(dot, node.else_list)
        finally:
            self.pop(mark)

    def walk_range(self, dot: Any, r: p.RangeNode) -> None:
        self.at(r)
        outer = self.mark()
        try:
            val = self.eval_pipeline(dot, r.pipe)
            mark = self.mark()
            budget = self.budget
            ndecl = len(r.pipe.decl)

            def one(index: Any, elem: Any) -> bool:
                budget.steps += 1
                if budget.steps > budget.max_steps:
                    self.over_steps(r)
                self.set_range_vars(r.pipe, index, elem)
                try:
                    self.walk(elem, r.list)
                except _Continue:
                    pass
                except _Break:
                    return False
                finally:
                    self.pop(mark)
                return True

            k = kind(val)
            if (k == "slice" and not isinstance(val, (bytes, bytearray))) or k == "slice":
                if len(val) > 0:
                    for i, e in enumerate(list(val)):
                        if not one(i, e):
                            break
                    return
            elif k == "map":
                if len(val) > 0:
                    for key, e in sorted_items(val):
                        if not one(key, e):
                            break
                    return
            elif k == "int":
                if ndecl > 1:
                    self.errorf(f"can't use {sprint(val)} to iterate over more than one variable")
                if val > 0:
                    for i in range(val):
                        if not one(MISSING, i):
                            break
                    return
            elif k in ("invalid", "nil"):
                pass
            else:
                self.errorf(f"range can't iterate over {sprint(val)}")
            if r.else_list is not None:
                self.walk(dot, r.else_list)
        finally:
            self.pop(outer)

    def set_range_vars(self, pipe: p.PipeNode, index: Any, elem: Any) -> None:
        """Bind one iteration's index/element, as exec.go's walkRange does.

        `{{range $x := ...}}` declared fresh variables on top of the stack, so the top slots are
        set. `{{range $x = ...}}` assigns to variables declared earlier, which need not be on top
        (`{{$i := 0}}{{$x := 0}}{{range $i = .L}}`), so they are looked up by name. With two
        variables the index comes first, with one it gets the element.
        """
        decl = pipe.decl
        if not decl:
            return
        if pipe.is_assign:
            if len(decl) > 1:
                self.set_var(decl[0].ident[0], index)
                self.set_var(decl[1].ident[0], elem)
            else:
                self.set_var(decl[0].ident[0], elem)
            return
        self.set_top_var(1, elem)
        if len(decl) > 1:
            self.set_top_var(2, index)

    def walk_template(self, dot: Any, t: p.TemplateNode) -> None:
        self.at(t)
        tree = self.trees.get(t.name)
        if tree is None or tree.root is None:
            self.errorf(f"template {quote(t.name)} not defined")
        if self.depth >= 100000:
            self.errorf("exceeded maximum template depth (100000)")
        dot = self.eval_pipeline(dot, t.pipe)
        sub = State(self.trees, self.funcs, tree, self.depth + 1, self.budget)
        sub.out = self.out
        sub.vars = [["$", dot]]
        sub.walk(dot, tree.root)

    # -- evaluation
    def eval_pipeline(self, dot: Any, pipe: p.PipeNode | None) -> Any:
        if pipe is None:
            return MISSING
        self.at(pipe)
        value = _NOFINAL
        for cmd in pipe.cmds:
            value = self.eval_command(dot, cmd, value)
            if value is None:
                value = MISSING
        for var in pipe.decl:
            if pipe.is_assign:
                self.set_var(var.ident[0], value)
            else:
                self.push(var.ident[0], value)
        return value

    def not_a_function(self, args: list[p.Node] | None, final: Any) -> None:
        if (args is not None and len(args) > 1) or final is not _NOFINAL:
            self.errorf(f"can't give argument to non-function {args[0] if args else ''}")

    def eval_command(self, dot: Any, cmd: p.CommandNode, final: Any) -> Any:
        first = cmd.args[0]
        if isinstance(first, p.FieldNode):
            return self.eval_field_node(dot, first, cmd.args, final)
        if isinstance(first, p.ChainNode):
            return self.eval_chain_node(dot, first, cmd.args, final)
        if isinstance(first, p.IdentifierNode):
            return self.eval_function(dot, first, cmd, cmd.args, final)
        if isinstance(first, p.PipeNode):
            self.not_a_function(cmd.args, final)
            return self.eval_pipeline(dot, first)
        if isinstance(first, p.VariableNode):
            return self.eval_variable_node(dot, first, cmd.args, final)
        self.at(first)
        self.not_a_function(cmd.args, final)
        if isinstance(first, p.BoolNode):
            return first.value
        if isinstance(first, p.DotNode):
            return dot
        if isinstance(first, p.NilNode):
            self.errorf("nil is not a command")
        if isinstance(first, p.NumberNode):
            return self.ideal_constant(first)
        if isinstance(first, p.StringNode):
            return first.text
        self.errorf(f"can't evaluate command {quote(str(first))}")
        return MISSING

    def ideal_constant(self, c: p.NumberNode) -> Any:
        self.at(c)
        if c.is_complex:
            return c.complex_val
        if (c.is_float and not _is_hex_int(c.text) and not c.text.startswith("'")
                and any(ch in c.text for ch in ".eEpP")):
            return c.float_val
        if c.is_int:
            return c.int_val
        if c.is_uint:
            self.errorf(f"{c.text} overflows int")
        return MISSING

    def eval_field_node(self, dot: Any, field: p.FieldNode, args: list[p.Node] | None, final: Any) -> Any:
        self.at(field)
        return self.eval_field_chain(dot, dot, field, field.ident, args, final)

    def eval_chain_node(self, dot: Any, chain: p.ChainNode, args: list[p.Node] | None, final: Any) -> Any:
        self.at(chain)
        if not chain.fields:
            self.errorf("internal error: no fields in evalChainNode")
        if isinstance(chain.node, p.NilNode):
            self.errorf(f"indirection through explicit nil in {chain}")
        pipe = self.eval_arg(dot, None, chain.node)
        return self.eval_field_chain(dot, pipe, chain, chain.fields, args, final)

    def eval_variable_node(self, dot: Any, var: p.VariableNode, args: list[p.Node] | None,
                           final: Any) -> Any:
        self.at(var)
        value = self.var_value(var.ident[0])
        if len(var.ident) == 1:
            self.not_a_function(args, final)
            return value
        return self.eval_field_chain(dot, value, var, var.ident[1:], args, final)

    def eval_field_chain(self, dot: Any, receiver: Any, node: p.Node, ident: list[str],
                         args: list[p.Node] | None, final: Any) -> Any:
        n = len(ident)
        for i in range(n - 1):
            receiver = self.eval_field(dot, ident[i], node, None, _NOFINAL, receiver)
        return self.eval_field(dot, ident[n - 1], node, args, final, receiver)

    def eval_function(self, dot: Any, node: p.IdentifierNode, cmd: p.Node, args: list[p.Node] | None,
                      final: Any) -> Any:
        self.at(node)
        fn = self.funcs.get(node.ident)
        if fn is None:
            self.errorf(f"{quote(node.ident)} is not a defined function")
        return self.eval_call(dot, fn, cmd, node.ident, args, final)

    def eval_field(self, dot: Any, name: str, node: p.Node, args: list[p.Node] | None, final: Any,
                   receiver: Any) -> Any:
        if receiver is MISSING:
            return MISSING
        if receiver is None:
            self.errorf(f"nil pointer evaluating interface {{}}.{name}")
        typ = type_name(receiver)
        k = kind(receiver)
        if k in ("struct", "func") and not isinstance(receiver, (dict, list)):
            m = go_method(receiver, name)
            if m is not None:
                return self.eval_call(dot, wrap_callable(name, m), node, name, args, final)
        has_args = (args is not None and len(args) > 1) or final is not _NOFINAL
        if k == "struct":
            fields = _struct_field_names(receiver)
            if name in fields:
                if not name[:1].isupper():
                    self.errorf(f"{name} is an unexported field of struct type {typ}")
                if has_args:
                    self.errorf(f"{name} has arguments but cannot be invoked as function")
                return getattr(receiver, name)
        elif k == "map" and map_key_type(receiver) == "string":
            if has_args:
                self.errorf(f"{name} is not a method but has arguments")
            return receiver.get(name, MISSING)
        self.errorf(f"can't evaluate field {name} in type {typ}")
        return MISSING

    def eval_call(self, dot: Any, fn: GoFunc, node: p.Node, name: str, args: list[p.Node] | None,
                  final: Any) -> Any:
        args = args[1:] if args is not None else []
        num_in = len(args) + (0 if final is _NOFINAL else 1)
        params = fn.params
        num_fixed = len(args)
        if fn.variadic:
            num_fixed = len(params) - 1
            if num_in < num_fixed:
                self.errorf(f"wrong number of args for {name}: want at least {len(params) - 1} got {len(args)}")
        elif num_in != len(params):
            self.errorf(f"wrong number of args for {name}: want {len(params)} got {num_in}")
        if fn.builtin and name in ("and", "or"):
            v: Any = MISSING
            for a in args:
                v = self.eval_arg(dot, "value", a)
                if is_true(v)[0] == (name == "or"):
                    return v
            if final is not _NOFINAL:
                v = self.validate_type(final, "value")
            return v
        argv: list[Any] = []
        i = 0
        while i < num_fixed and i < len(args):
            argv.append(self.eval_arg(dot, params[i], args[i]))
            i += 1
        if fn.variadic:
            while i < len(args):
                argv.append(self.eval_arg(dot, params[-1], args[i]))
                i += 1
        if final is not _NOFINAL:
            t = params[-1] if params else "any"
            if fn.variadic and num_in - 1 < num_fixed:
                t = params[num_in - 1]
            argv.append(self.validate_type(final, t))
        try:
            return fn.fn(*argv)
        except FuncError as e:
            self.at(node)
            self.errorf(f"error calling {name}: {e}")
        except TemplateError:
            raise
        except RecursionError:
            raise
        except Exception as e:  # a Go function that panics: Go reports the panic the same way
            self.at(node)
            self.errorf(f"error calling {name}: {e}")
        return MISSING

    def validate_type(self, value: Any, typ: str | None) -> Any:
        if value is MISSING:
            if typ is None:
                return MISSING
            if typ in NILABLE:
                return MISSING if typ == "value" else None
            self.errorf(f"invalid value; expected {go_type_display(typ)}")
        if typ is None or typ in ("value", "any"):
            return value
        if value is None:
            if typ in NILABLE:
                return None
            self.errorf(f"wrong type for value; expected {go_type_display(typ)}; got interface {{}}")
        if not _assignable(value, typ):
            self.errorf(f"wrong type for value; expected {go_type_display(typ)}; got {type_name(value)}")
        return value

    def eval_arg(self, dot: Any, typ: str | None, n: p.Node) -> Any:
        self.at(n)
        if isinstance(n, p.DotNode):
            return self.validate_type(dot, typ)
        if isinstance(n, p.NilNode):
            if typ is not None and typ in NILABLE:
                return MISSING if typ == "value" else None
            self.errorf(f"cannot assign nil to {go_type_display(typ or 'interface {}')}")
        if isinstance(n, p.FieldNode):
            return self.validate_type(self.eval_field_node(dot, n, [n], _NOFINAL), typ)
        if isinstance(n, p.VariableNode):
            return self.validate_type(self.eval_variable_node(dot, n, None, _NOFINAL), typ)
        if isinstance(n, p.PipeNode):
            return self.validate_type(self.eval_pipeline(dot, n), typ)
        if isinstance(n, p.IdentifierNode):
            return self.validate_type(self.eval_function(dot, n, n, None, _NOFINAL), typ)
        if isinstance(n, p.ChainNode):
            return self.validate_type(self.eval_chain_node(dot, n, None, _NOFINAL), typ)
        if typ == "bool":
            if isinstance(n, p.BoolNode):
                return n.value
            self.errorf(f"expected bool; found {n}")
        if typ == "float64":
            if isinstance(n, p.NumberNode) and n.is_float:
                return n.float_val
            self.errorf(f"expected float; found {n}")
        if typ in ("int", "int64"):
            if isinstance(n, p.NumberNode) and n.is_int:
                return n.int_val
            self.errorf(f"expected integer; found {n}")
        if typ in ("any", "value", None):
            return self.eval_empty_interface(dot, n)
        if typ == "string":
            if isinstance(n, p.StringNode):
                return n.text
            self.errorf(f"expected string; found {n}")
        self.errorf(f"can't handle {n} for arg of type {go_type_display(typ)}")
        return MISSING

    def eval_empty_interface(self, dot: Any, n: p.Node) -> Any:
        self.at(n)
        if isinstance(n, p.BoolNode):
            return n.value
        if isinstance(n, p.NumberNode):
            return self.ideal_constant(n)
        if isinstance(n, p.StringNode):
            return n.text
        self.errorf(f"can't handle assignment of {n} to empty interface argument")
        return MISSING

    def print_value(self, n: p.Node, v: Any) -> None:
        self.at(n)
        if v is MISSING:
            self.emit("<no value>")
            return
        if isinstance(v, GoFunc) or (kind(v) == "func"):
            self.errorf(f"can't print {n} of type {type_name(v)}")
        self.emit(sprint(v))


def _struct_field_names(v: Any) -> set[str]:
    import dataclasses

    if dataclasses.is_dataclass(v) and not isinstance(v, type):
        return {f.name for f in dataclasses.fields(v)}
    try:
        return {k for k in vars(v) if not k.startswith("_")}
    except TypeError:
        return set()


def _assignable(value: Any, typ: str) -> bool:
    tn = type_name(value)
    if typ == "map":
        return tn == "map[string]interface {}"
    if typ == "[]any":
        return tn == "[]interface {}"
    return tn == typ


def execute_tree(trees: dict[str, p.Tree], funcs: dict[str, GoFunc], name: str, data: Any,
                 limits: Limits | None = None) -> str:
    """Execute template `name` with `data` as dot, within `limits` (output bytes, steps)."""
    tree = trees.get(name)
    if tree is None or tree.root is None:
        raise TemplateExecError(f"template: {name}: {quote(name)} is an incomplete or empty template")
    value = MISSING if data is None else data
    budget = Budget(limits if limits is not None else DEFAULT_LIMITS)
    state = State(trees, funcs, tree, budget=budget)
    state.vars = [["$", value]]
    token = activate(budget)
    try:
        state.walk(value, tree.root)
    except RecursionError:
        raise TemplateExecError(
            f"template: {name}: exceeded maximum template depth (100000)"
        ) from None
    finally:
        deactivate(token)
    return "".join(state.out)
