//! Source rewriting that gives templates Python's operator semantics where
//! minijinja has none: `+`, `-` and `%` on date-times, timedeltas,
//! relativedeltas and strings (`logical_date - macros.timedelta(days=1)`,
//! `'%02d' % month`), and mutable list and dict literals (`{% do l.append(x) %}`).
//!
//! minijinja has no operator overloading for objects and its literals are
//! immutable, so the template is parsed (minijinja's own parser, pinned
//! version) and those expressions are rewritten into calls of functions the
//! environment registers (`__tr_binop`, `__tr_list`, `__tr_dict`), using the
//! parser's spans. Everything else is left byte for byte as written.

/// The name prefix of the helpers the rewrite calls (`__tr_binop`, ...).
pub(crate) const HELPER_PREFIX: &str = "__tr_";
use minijinja::machinery::ast::{self, BinOpKind, CallArg, Expr, Stmt};
use minijinja::machinery::{Span, parse};
use minijinja::syntax::SyntaxConfig;

/// The rewritten source, or `None` when there is nothing to rewrite or the
/// template does not parse (the normal compile then reports the error).
pub(crate) fn rewrite(source: &str) -> Option<String> {
    // Cheap exit: nothing that could need rewriting.
    if !source.contains(['+', '-', '%', '*', '~', '[', '{']) && !source.contains(" if ") {
        return None;
    }
    let stmt = parse(source, "<template>", SyntaxConfig::default()).ok()?;
    let mut targets = Vec::new();
    collect_stmt(&stmt, &mut targets);
    if targets.is_empty() {
        return None;
    }
    let r = Rewriter { src: source };
    Some(r.splice(0, source.len(), &targets))
}

/// The template with each unary `+` (a `+` after `(`, `[`, `,`, `=` or an
/// operator, before a number) removed, when that makes an unparsable template
/// parse; `None` otherwise.
pub(crate) fn strip_unary_plus(source: &str) -> Option<String> {
    if parse(source, "<template>", SyntaxConfig::default()).is_ok() {
        return None;
    }
    let bytes = source.as_bytes();
    let mut out = String::with_capacity(source.len());
    let mut prev = b' ';
    for (i, c) in source.char_indices() {
        let next = bytes.get(i + 1).copied().unwrap_or(b' ');
        if c == '+'
            && matches!(
                prev,
                b'(' | b'[' | b',' | b'=' | b':' | b'+' | b'-' | b'*' | b'/'
            )
            && (next.is_ascii_digit() || next == b'.')
        {
            continue;
        }
        out.push(c);
        if !c.is_whitespace() {
            prev = if c.is_ascii() { c as u8 } else { b'a' };
        }
    }
    parse(&out, "<template>", SyntaxConfig::default())
        .is_ok()
        .then_some(out)
}

/// A rewritable expression, by reference into the AST.
type Target<'a, 'b> = &'b Expr<'a>;

fn is_target(e: &Expr<'_>) -> bool {
    match e {
        // `*` and `~` too: what they build is checked against the render
        // budget (src/template/budget.rs) before it is allocated.
        Expr::BinOp(b) => matches!(
            b.op,
            BinOpKind::Add | BinOpKind::Sub | BinOpKind::Rem | BinOpKind::Mul | BinOpKind::Concat
        ),
        // minijinja 3.0.5 panics on `''[::-1]`: slices go to Python's semantics.
        Expr::Slice(_) => true,
        Expr::List(_) | Expr::Map(_) => true,
        // Jinja's `a if b` without `else` prints nothing when `b` is false,
        // even under StrictUndefined; minijinja would print `None`.
        Expr::IfExpr(i) => i.false_expr.is_none(),
        _ => false,
    }
}

fn range(span: Span) -> (usize, usize) {
    (span.start_offset as usize, span.end_offset as usize)
}

struct Rewriter<'s> {
    src: &'s str,
}

impl Rewriter<'_> {
    /// `src[start..end]` with each target (outermost, sorted, inside the
    /// range) replaced by its rewritten text.
    fn splice(&self, start: usize, end: usize, targets: &[Target<'_, '_>]) -> String {
        let mut out = String::new();
        let mut pos = start;
        let mut sorted: Vec<_> = targets.to_vec();
        sorted.sort_by_key(|t| extent(t).0);
        for t in sorted {
            let (s, e) = extent(t);
            if s < pos || e > end || s > e {
                continue;
            }
            out.push_str(&self.src[pos..s]);
            out.push_str(&self.render(t));
            pos = e;
        }
        out.push_str(&self.src[pos..end]);
        out
    }

    /// The text of an expression with every target inside it rewritten.
    fn text(&self, e: &Expr<'_>) -> String {
        if is_target(e) {
            return self.render(e);
        }
        let mut inner = Vec::new();
        collect_children(e, &mut inner);
        let (s, end) = extent(e);
        self.splice(s, end, &inner)
    }

    /// An expression's original source as a string literal.
    fn literal(&self, e: &Expr<'_>) -> String {
        let (s, end) = extent(e);
        let src = self.src.get(s..end).unwrap_or_default();
        format!(
            "'{}'",
            src.replace('\\', "\\\\")
                .replace('\'', "\\'")
                .replace('\n', " ")
        )
    }

    /// The replacement text of a target.
    fn render(&self, e: &Expr<'_>) -> String {
        match e {
            Expr::BinOp(b) => {
                let op = match b.op {
                    BinOpKind::Add => "+",
                    BinOpKind::Sub => "-",
                    BinOpKind::Mul => "*",
                    BinOpKind::Concat => "~",
                    _ => "%",
                };
                // The operands' source goes along, to name an undefined one.
                format!(
                    "__tr_binop('{op}', {}, {}, {}, {})",
                    self.text(&b.left),
                    self.text(&b.right),
                    self.literal(&b.left),
                    self.literal(&b.right)
                )
            }
            Expr::Slice(sl) => {
                let part = |e: &Option<Expr<'_>>| {
                    e.as_ref()
                        .map_or_else(|| "none".to_string(), |e| self.text(e))
                };
                format!(
                    "__tr_slice({}, {}, {}, {}, {})",
                    self.text(&sl.expr),
                    part(&sl.start),
                    part(&sl.stop),
                    part(&sl.step),
                    self.literal(&sl.expr)
                )
            }
            // The items' source goes first, to name an undefined one.
            Expr::List(l) => {
                let names: Vec<String> = l.items.iter().map(|i| self.literal(i)).collect();
                let args: Vec<String> = std::iter::once(format!("[{}]", names.join(", ")))
                    .chain(l.items.iter().map(|i| self.text(i)))
                    .collect();
                format!("__tr_list({})", args.join(", "))
            }
            Expr::Map(m) => {
                let names: Vec<String> = m.values.iter().map(|v| self.literal(v)).collect();
                let args: Vec<String> = std::iter::once(format!("[{}]", names.join(", ")))
                    .chain(
                        m.keys
                            .iter()
                            .zip(&m.values)
                            .flat_map(|(k, v)| [self.text(k), self.text(v)]),
                    )
                    .collect();
                format!("__tr_dict({})", args.join(", "))
            }
            Expr::IfExpr(i) => format!(
                "({} if {} else '')",
                self.text(&i.true_expr),
                self.text(&i.test_expr)
            ),
            other => self.text(other),
        }
    }
}

/// The direct sub-expressions of `e`.
fn children<'a, 'b>(e: &'b Expr<'a>) -> Vec<&'b Expr<'a>> {
    let mut out: Vec<&'b Expr<'a>> = Vec::new();
    let args = |args: &'b [CallArg<'a>], out: &mut Vec<&'b Expr<'a>>| {
        for a in args {
            match a {
                CallArg::Pos(e)
                | CallArg::Kwarg(_, e)
                | CallArg::PosSplat(e)
                | CallArg::KwargSplat(e) => out.push(e),
            }
        }
    };
    match e {
        Expr::Var(_) | Expr::Const(_) => {}
        Expr::Slice(s) => {
            out.push(&s.expr);
            out.extend([&s.start, &s.stop, &s.step].into_iter().flatten());
        }
        Expr::UnaryOp(u) => out.push(&u.expr),
        Expr::BinOp(b) => out.extend([&b.left, &b.right]),
        Expr::Compare(c) => {
            out.push(&c.expr);
            out.extend(c.ops.iter().map(|op| &op.expr));
        }
        Expr::IfExpr(i) => {
            out.extend([&i.test_expr, &i.true_expr]);
            out.extend(i.false_expr.as_ref());
        }
        Expr::Filter(f) => {
            out.extend(f.expr.as_ref());
            args(&f.args, &mut out);
        }
        Expr::Test(t) => {
            out.push(&t.expr);
            args(&t.args, &mut out);
        }
        Expr::GetAttr(g) => out.push(&g.expr),
        Expr::GetItem(g) => out.extend([&g.expr, &g.subscript_expr]),
        Expr::Call(c) => {
            out.push(&c.expr);
            args(&c.args, &mut out);
        }
        Expr::List(l) => out.extend(l.items.iter()),
        Expr::Tuple(t) => out.extend(t.items.iter()),
        Expr::Map(m) => {
            for (k, v) in m.keys.iter().zip(&m.values) {
                out.extend([k, v]);
            }
        }
    }
    out
}

/// The source range an expression covers: the parser's span of a postfix
/// expression (`.attr`, `(args)`) starts at its operator, not at its base.
fn extent(e: &Expr<'_>) -> (usize, usize) {
    // A conditional's own span starts before its first token; its parts are exact.
    let (mut s, mut end) = match e {
        Expr::IfExpr(_) => (usize::MAX, 0),
        _ => range(e.span()),
    };
    for c in children(e) {
        let (cs, ce) = extent(c);
        s = s.min(cs);
        end = end.max(ce);
    }
    (s, end)
}

/// Pushes the outermost targets among `e`'s descendants (not `e` itself).
fn collect_children<'a, 'b>(e: &'b Expr<'a>, out: &mut Vec<Target<'a, 'b>>) {
    for c in children(e) {
        collect_expr(c, out);
    }
}

fn collect_expr<'a, 'b>(e: &'b Expr<'a>, out: &mut Vec<Target<'a, 'b>>) {
    if is_target(e) {
        out.push(e);
    } else {
        collect_children(e, out);
    }
}

fn collect_call<'a, 'b>(c: &'b ast::Call<'a>, out: &mut Vec<Target<'a, 'b>>) {
    collect_expr(&c.expr, out);
    for a in &c.args {
        match a {
            CallArg::Pos(e)
            | CallArg::Kwarg(_, e)
            | CallArg::PosSplat(e)
            | CallArg::KwargSplat(e) => collect_expr(e, out),
        }
    }
}

fn collect_body<'a, 'b>(body: &'b [Stmt<'a>], out: &mut Vec<Target<'a, 'b>>) {
    body.iter().for_each(|s| collect_stmt(s, out));
}

/// Targets in expression positions of a statement; assignment targets
/// (`for x in`, `set x =`) are never rewritten.
fn collect_stmt<'a, 'b>(s: &'b Stmt<'a>, out: &mut Vec<Target<'a, 'b>>) {
    match s {
        Stmt::Template(t) => collect_body(&t.children, out),
        Stmt::EmitExpr(e) => collect_expr(&e.expr, out),
        Stmt::EmitRaw(_) | Stmt::Continue(_) | Stmt::Break(_) => {}
        Stmt::ForLoop(f) => {
            collect_expr(&f.iter, out);
            if let Some(x) = &f.filter_expr {
                collect_expr(x, out);
            }
            collect_body(&f.body, out);
            collect_body(&f.else_body, out);
        }
        Stmt::IfCond(i) => {
            collect_expr(&i.expr, out);
            collect_body(&i.true_body, out);
            collect_body(&i.false_body, out);
        }
        Stmt::WithBlock(w) => {
            for (_, value) in &w.assignments {
                collect_expr(value, out);
            }
            collect_body(&w.body, out);
        }
        Stmt::Set(set) => collect_expr(&set.expr, out),
        Stmt::SetBlock(set) => {
            if let Some(f) = &set.filter {
                collect_expr(f, out);
            }
            collect_body(&set.body, out);
        }
        Stmt::AutoEscape(a) => collect_body(&a.body, out),
        Stmt::FilterBlock(f) => {
            collect_expr(&f.filter, out);
            collect_body(&f.body, out);
        }
        Stmt::Block(b) => collect_body(&b.body, out),
        Stmt::Import(_) | Stmt::FromImport(_) | Stmt::Extends(_) | Stmt::Include(_) => {}
        Stmt::Macro(m) => {
            m.defaults.iter().for_each(|d| collect_expr(d, out));
            collect_body(&m.body, out);
        }
        Stmt::CallBlock(c) => {
            collect_call(&c.call, out);
            collect_body(&c.macro_decl.body, out);
        }
        Stmt::Do(d) => collect_call(&d.call, out),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rewrites_arithmetic_and_literals_only() {
        assert_eq!(rewrite("{{ ds }}"), None);
        assert_eq!(
            rewrite("{{ (logical_date - macros.timedelta(days=1)).strftime('%Y-%m') }}").unwrap(),
            "{{ (__tr_binop('-', logical_date, macros.timedelta(days=1), 'logical_date', 'macros.timedelta(days=1)')).strftime('%Y-%m') }}"
        );
        assert_eq!(
            rewrite("{{ a + b - c }}").unwrap(),
            "{{ __tr_binop('-', __tr_binop('+', a, b, 'a', 'b'), c, 'a + b', 'c') }}"
        );
        assert_eq!(
            rewrite("{{ '%02d' % m }}").unwrap(),
            "{{ __tr_binop('%', '%02d', m, '\\'%02d\\'', 'm') }}"
        );
        assert_eq!(
            rewrite("{% set l = [] %}{% do l.append(x) %}").unwrap(),
            "{% set l = __tr_list([]) %}{% do l.append(x) %}"
        );
        assert_eq!(
            rewrite("{{ {'a': [1, n + 1]} | tojson }}").unwrap(),
            "{{ __tr_dict(['[1, n + 1]'], 'a', __tr_list(['1', 'n + 1'], 1, __tr_binop('+', n, 1, 'n', '1'))) | tojson }}"
        );
        assert_eq!(
            rewrite("{% for x in [1, 2] %}{{ x }}{% endfor %}").unwrap(),
            "{% for x in __tr_list(['1', '2'], 1, 2) %}{{ x }}{% endfor %}"
        );
        assert_eq!(
            rewrite("{{ x | default(y - 1) if z else -1 }}").unwrap(),
            "{{ x | default(__tr_binop('-', y, 1, 'y', '1')) if z else -1 }}"
        );
        assert_eq!(
            rewrite("{{ ',' if not loop.last }}").unwrap(),
            "{{ (',' if not loop.last else '') }}"
        );
    }

    #[test]
    fn broken_templates_are_left_alone() {
        assert_eq!(rewrite("{{ a + }}"), None);
    }
}
