//! Renders templated fields as Airflow's Jinja environment would: strict
//! undefined, the `do` extension, one trailing newline stripped, `\r\n`
//! normalised, Python's `str()` of values and its operators, Airflow's context,
//! macros and filters (airflow/templates.py, models/dag.py `get_template_env`,
//! BaseOperator `render_template_fields`, jinja2/nativetypes.py).

mod airflow;
pub mod budget;
mod jinja;
mod pylib;
mod pyvalue;

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use minijinja::value::{ObjectRepr, Value};
use minijinja::{AutoEscape, Environment, UndefinedBehavior};

use crate::context::Context;
use crate::error::{Error, Result};
use crate::spec::Operator;
use crate::store::Store;
use airflow::accessors::Misses;
use airflow::globals::globals;
use airflow::macros;
use jinja::{filters, native, rewrite};
use pylib::datetime::DateTimeObj;
use pyvalue::{ops, repr};

pub struct Renderer {
    env: Environment<'static>,
    globals: Value,
    misses: Arc<Misses>,
    native: bool,
    limits: budget::Limits,
    cancel: Option<Arc<AtomicBool>>,
}

/// Whether rendering could change a templated field of `op`. It cannot when
/// every field is already what Jinja gives back for it: a string with no
/// `{` (no expression, statement or comment can start), no `\r` (Jinja
/// turns it into `\n`), no trailing newline (Jinja drops one), not a
/// template file name, within the output budget; other JSON values stand
/// for themselves. Native rendering can turn any string into a number, so
/// it always renders. A plain task then skips building the environment and
/// its globals, a third of its start-up work.
pub fn needs_render(op: &mut Operator, native: bool, limits: budget::Limits) -> bool {
    if native {
        return true;
    }
    let exts = op.template_ext();
    op.template_fields_mut().into_iter().any(|(name, value)| {
        let exts = if name == "output_path" { &[][..] } else { exts };
        could_change(value, exts, limits.max_bytes)
    })
}

fn could_change(value: &serde_json::Value, exts: &[&str], max_bytes: usize) -> bool {
    use serde_json::Value as J;
    match value {
        J::String(s) => {
            s.len() > max_bytes
                || s.contains(['{', '\r'])
                || s.ends_with('\n')
                || exts.iter().any(|e| s.ends_with(e))
        }
        J::Array(items) => items.iter().any(|v| could_change(v, exts, max_bytes)),
        J::Object(map) => map.values().any(|v| could_change(v, exts, max_bytes)),
        _ => false,
    }
}

impl Renderer {
    /// `task_type` is the Airflow operator class the task stands for
    /// (`{{ task.task_type }}`, `{{ task }}`).
    pub fn new(
        ctx: &Context,
        store: Arc<Store>,
        searchpath: Vec<PathBuf>,
        native: bool,
        task_type: &str,
    ) -> Renderer {
        let misses = Arc::new(Misses::default());
        let globals = globals(ctx, store, misses.clone(), task_type);
        let limits = budget::Limits::default();
        Renderer {
            env: environment(searchpath, native, limits),
            globals,
            misses,
            native,
            limits,
            cancel: None,
        }
    }

    /// Renders under these limits instead of the defaults.
    pub fn with_limits(mut self, limits: budget::Limits) -> Renderer {
        self.env.set_fuel(Some(limits.max_steps));
        self.limits = limits;
        self
    }

    /// Stops rendering (with an error) soon after `cancel` is set.
    pub fn with_cancel(mut self, cancel: Arc<AtomicBool>) -> Renderer {
        self.cancel = Some(cancel);
        self
    }

    fn scope(&self) -> budget::Scope {
        budget::Scope::enter(self.limits, self.cancel.clone())
    }

    /// Renders every templated field of the operator in place.
    pub fn render_operator(&self, op: &mut Operator) -> Result<()> {
        let exts = op.template_ext();
        for (name, value) in op.template_fields_mut() {
            // Airflow skips falsy field values (`if not value: continue`).
            if !crate::py::truth::truthy(value) {
                continue;
            }
            // `output_path` is the runner's own field: a `.json` path there is
            // where to write, never a template file to read.
            let exts = if name == "output_path" { &[][..] } else { exts };
            // A panic in the engine is a bug (ours or minijinja's), never
            // the template's fault: report it as one, naming the field.
            let rendered = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                self.render_value(name, value, exts)
            }))
            .map_err(|panic| Error::Internal {
                message: format!(
                    "the template engine panicked while rendering field `{name}`: {}",
                    panic_message(&panic)
                ),
            })?;
            *value = rendered?;
        }
        Ok(())
    }

    fn render_value(
        &self,
        path: &str,
        value: &serde_json::Value,
        exts: &[&str],
    ) -> Result<serde_json::Value> {
        use serde_json::Value as J;
        Ok(match value {
            J::String(s) => {
                if exts.iter().any(|e| s.ends_with(e)) {
                    self.render_file(path, s)?
                } else {
                    self.render_source(path, s)?
                }
            }
            J::Array(items) => J::Array(
                items
                    .iter()
                    .enumerate()
                    .map(|(i, v)| self.render_value(&format!("{path}[{i}]"), v, exts))
                    .collect::<Result<_>>()?,
            ),
            J::Object(map) => J::Object(
                map.iter()
                    .map(|(k, v)| {
                        Ok((
                            k.clone(),
                            self.render_value(&format!("{path}.{k}"), v, exts)?,
                        ))
                    })
                    .collect::<Result<_>>()?,
            ),
            other => other.clone(),
        })
    }

    fn render_file(&self, path: &str, name: &str) -> Result<serde_json::Value> {
        let template = self.env.get_template(name).map_err(|e| {
            let message = if e.kind() == minijinja::ErrorKind::TemplateNotFound {
                format!("template file `{name}` not found in the template search path")
            } else {
                err_detail(&e)
            };
            Error::Template {
                field: path.into(),
                line: e.line(),
                message: format!("{message} (in template file `{name}`)"),
            }
        })?;
        let out = self
            .render_template(&template)
            .map_err(|e| self.template_error(path, Some(name), &e))?;
        Ok(self.finish(out))
    }

    /// Renders through a [`budget::CappedOutput`], under the budget's scope.
    fn render_template(
        &self,
        template: &minijinja::Template,
    ) -> std::result::Result<String, minijinja::Error> {
        let _scope = self.scope();
        let mut out = budget::CappedOutput::new(self.limits.max_bytes);
        match template.render_captured_to(&self.globals, &mut out) {
            Ok(_) => Ok(out.into_string()),
            Err(_) if out.exceeded => Err(minijinja::Error::new(
                minijinja::ErrorKind::InvalidOperation,
                format!(
                    "the rendered output exceeded the render budget of {} bytes (`{}`)",
                    self.limits.max_bytes,
                    budget::BYTES_ENV
                ),
            )),
            Err(e) => Err(e),
        }
    }

    /// Renders a template given as text.
    pub fn render_source(&self, path: &str, source: &str) -> Result<serde_json::Value> {
        let source = prepare_source(source);
        if self.native
            && let Some(value) = self.native_expression(path, &source)?
        {
            return Ok(value);
        }
        let out = self
            .env
            .template_from_named_str(path, &source)
            .and_then(|t| self.render_template(&t))
            .map_err(|e| self.template_error(path, None, &e))?;
        Ok(self.finish(out))
    }

    /// Native rendering of a template that is exactly one `{{ expression }}`:
    /// the value itself, a string going through `literal_eval` (Jinja's
    /// `native_concat` with a single node).
    fn native_expression(&self, path: &str, source: &str) -> Result<Option<serde_json::Value>> {
        let trimmed = source.strip_suffix('\n').unwrap_or(source);
        let Some(inner) = trimmed
            .strip_prefix("{{")
            .and_then(|s| s.strip_suffix("}}"))
        else {
            return Ok(None);
        };
        if inner.contains("{{") || inner.contains("}}") || inner.contains("{%") {
            return Ok(None);
        }
        let expr_src = rewrite::rewrite(&format!("{{{{{inner}}}}}"))
            .and_then(|t| {
                t.strip_prefix("{{")
                    .and_then(|t| t.strip_suffix("}}"))
                    .map(str::to_owned)
            })
            .unwrap_or_else(|| inner.to_string());
        let expr = self
            .env
            .compile_expression_owned(expr_src.trim().to_string())
            .map_err(|e| self.template_error(path, None, &e))?;
        let value = {
            let _scope = self.scope();
            expr.eval(&self.globals)
        }
        .map_err(|e| self.template_error(path, None, &e))?;
        if value.is_undefined() {
            return Err(Error::Template {
                field: path.into(),
                line: Some(1),
                message: "undefined value".into(),
            });
        }
        if let Some(s) = value.as_str() {
            return Ok(Some(
                native::literal_eval(s).unwrap_or_else(|| serde_json::Value::String(s.to_string())),
            ));
        }
        if let Some(dt) = value.downcast_object_ref::<DateTimeObj>() {
            return Ok(Some(serde_json::Value::String(dt.dt.isoformat('T'))));
        }
        if value
            .as_object()
            .is_some_and(|o| o.repr() == ObjectRepr::Plain)
        {
            return Ok(Some(serde_json::Value::String(value.to_string())));
        }
        serde_json::to_value(&value)
            .map(Some)
            .map_err(|e| Error::Template {
                field: path.into(),
                line: None,
                message: format!("value is not JSON: {e}"),
            })
    }

    fn finish(&self, rendered: String) -> serde_json::Value {
        if !self.native {
            return serde_json::Value::String(rendered);
        }
        // A nested empty string renders to no node at all: `None` natively.
        if rendered.is_empty() {
            return serde_json::Value::Null;
        }
        native::literal_eval(&rendered).unwrap_or(serde_json::Value::String(rendered))
    }

    fn template_error(&self, path: &str, name: Option<&str>, err: &minijinja::Error) -> Error {
        let misses = self.misses.take();
        let mut message = match err.kind() {
            minijinja::ErrorKind::UndefinedError if !misses.is_empty() => misses.join("; "),
            minijinja::ErrorKind::UndefinedError => {
                // An operator or literal helper names the operand it was given
                // as written.
                let operand = err
                    .detail()
                    .and_then(|d| d.strip_suffix(" is undefined"))
                    .and_then(|d| d.strip_prefix('\'')?.strip_suffix('\''));
                // minijinja says only "undefined value": name what it was.
                let what = err
                    .template_source()
                    .zip(err.range())
                    .and_then(|(src, r)| {
                        // The span of `a.b.c` may start at `.b`: take the whole chain.
                        let head = src.get(..r.start)?;
                        let start = head
                            .rfind(|c: char| !(c.is_alphanumeric() || "_.".contains(c)))
                            .map_or(0, |i| i + 1);
                        src.get(start..r.end)
                    })
                    .map(str::trim)
                    .filter(|s| !s.is_empty() && s.len() <= 200)
                    // A rewritten operator or literal is not what the author
                    // wrote; its helper names the operand itself (above).
                    .filter(|expr| !expr.contains(rewrite::HELPER_PREFIX));
                let what = match (operand, what) {
                    (Some(name), _) => format!("`{name}` is undefined"),
                    (None, Some(expr)) => format!("`{expr}` is undefined"),
                    (None, None) => err_detail(err),
                };
                format!(
                    "{what} (Airflow uses StrictUndefined: every name a template uses must exist)"
                )
            }
            minijinja::ErrorKind::OutOfFuel => format!(
                "the template exceeded the render budget of {} steps (`{}`): an endless or very long loop?",
                self.limits.max_steps,
                budget::STEPS_ENV
            ),
            _ => err_detail(err),
        };
        if let Some(name) = name {
            message = format!("{message} (in template file `{name}`)");
        }
        Error::Template {
            field: path.into(),
            line: err.line(),
            message,
        }
    }
}

/// Jinja normalises newlines to `\n`; Python operators and mutable literals
/// are rewritten into the environment's helper calls.
fn prepare_source(source: &str) -> String {
    let source = if source.contains('\r') {
        source.replace("\r\n", "\n").replace('\r', "\n")
    } else {
        source.to_string()
    };
    if let Some(rewritten) = rewrite::rewrite(&source) {
        return rewritten;
    }
    // minijinja has no unary `+` (`relativedelta(months=+1)`); Python ignores it.
    if source.contains('+')
        && let Some(stripped) = rewrite::strip_unary_plus(&source)
    {
        return rewrite::rewrite(&stripped).unwrap_or(stripped);
    }
    source
}

/// The text of a caught panic.
fn panic_message(panic: &Box<dyn std::any::Any + Send>) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown cause".into())
}

fn err_detail(err: &minijinja::Error) -> String {
    let mut s = err.kind().to_string();
    if let Some(detail) = err.detail() {
        s.push_str(": ");
        s.push_str(detail);
    }
    s
}

/// The template file `name` in the first search path folder that has it, by
/// minijinja's `path_loader` rule: `name` is relative to the folder (a
/// leading `/` too), and a segment starting with `.` (`..`, a hidden file) or
/// holding a `\\` is refused, so no name reaches outside the search path.
/// The one lookup of `run`, `render` and `encode`.
pub fn find_file(searchpath: &[PathBuf], name: &str) -> Option<PathBuf> {
    if name
        .split('/')
        .any(|segment| segment.starts_with('.') || segment.contains('\\'))
    {
        return None;
    }
    searchpath
        .iter()
        .map(|dir| {
            let mut path = dir.clone();
            path.extend(name.split('/').filter(|s| !s.is_empty()));
            path
        })
        .find(|p| p.is_file())
}

fn environment(
    searchpath: Vec<PathBuf>,
    native: bool,
    limits: budget::Limits,
) -> Environment<'static> {
    let mut env = Environment::new();
    // Every instruction costs one step; a field that runs out fails (exit 67)
    // instead of rendering past `execution_timeout`.
    env.set_fuel(Some(limits.max_steps));
    // Errors keep the template source and the failing span (in release builds
    // too), so an undefined name is named; it costs nothing until an error.
    env.set_debug(true);
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    env.set_auto_escape_callback(|_| AutoEscape::None);
    env.set_recursion_limit(500);
    env.set_formatter(|out, _state, value| {
        budget::checkpoint()?;
        if let Some(s) = value.as_str() {
            budget::count_emitted(s.len())?;
            out.write_str(s)?;
        } else {
            let s = repr::py_str(value);
            budget::count_emitted(s.len())?;
            out.write_str(&s)?;
        }
        Ok(())
    });
    env.set_unknown_method_callback(repr::unknown_method);
    // Template files (and what they `include`) get the same preparation as
    // inline templates: newlines normalised, Python operators rewritten.
    env.set_loader(move |name| {
        let Some(path) = find_file(&searchpath, name) else {
            return Ok(None);
        };
        let source = std::fs::read_to_string(&path).map_err(|e| {
            minijinja::Error::new(
                minijinja::ErrorKind::InvalidOperation,
                "could not read template",
            )
            .with_source(e)
        })?;
        Ok(Some(minijinja::TemplateSource::new(prepare_source(
            &source,
        ))))
    });
    filters::register(&mut env);
    ops::register(&mut env, native);
    for (name, f) in macros::date_filters() {
        env.add_filter(name, move |value: Value| {
            macros::apply_date_filter(f, &value)
        });
    }
    env
}
