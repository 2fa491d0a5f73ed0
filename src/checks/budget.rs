//! Bounded, panic-proof evaluation of check rules.
//!
//! The `cel` crate (0.11) evaluates an expression by plain recursion: it has no step counter,
//! no deadline and no way to stop a running evaluation, and some of its paths panic
//! (`todo!()` when a comprehension ranges over something that is neither a list nor a map).
//! A rule with nested comprehensions over lists of a few hundred entries can therefore run for
//! minutes, and a bad rule can bring the whole scan down.
//!
//! Why this design rather than the alternatives:
//! - A blocking thread with a deadline cannot stop the evaluation: Rust cannot kill a thread,
//!   and the interpreter never looks at a cancellation flag, so a runaway rule would keep
//!   burning a core (and its memory) after the scan moved on.
//! - A static cost bound (comprehension nesting × list sizes) is only sound if every list size
//!   is known before evaluation, which is not the case for lists built by the rule itself
//!   (`map`, `filter`, concatenation) or lists reached through comprehension variables.
//!
//! Instead, each compiled rule is rewritten once, at load, so that the interpreter itself
//! reports every step: the loop condition of every comprehension (the only construct of CEL
//! that repeats work; every other node is evaluated once per evaluation of its parent) becomes
//! `__postura_step() && <condition>`, and its range becomes `__postura_iterable(<range>)`.
//! `__postura_step` counts iterations and looks at the clock; past [`STEP_LIMIT`] iterations
//! or [`TIME_LIMIT`] it returns an error, which the interpreter propagates at once (`&&`
//! evaluates its left side first and returns its error). `__postura_iterable` turns a range
//! that is not a list or map into an error instead of the crate's `todo!()` panic. Whatever
//! still panics inside the crate is caught with `catch_unwind` and reported as that rule's
//! error. The work between two steps is one iteration's body without its inner loops, bounded
//! by the size of the rule (a rule is at most [`MAX_RULE_LENGTH`] bytes) and of the facts
//! (whose peer-controlled counts are capped where they are collected).

use std::cell::Cell;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::{Arc, Mutex, Once};
use std::time::{Duration, Instant};

use cel::common::ast::{operators, CallExpr, Expr, IdedExpr};
use cel::{Context, ExecutionError, Value};

/// Comprehension iterations one rule (or evidence expression) may take, nested loops
/// included. The built-in catalog needs at most a few thousand on the largest targets seen
/// (every suite × a handful of fields; every name server × its records).
pub const STEP_LIMIT: u64 = 200_000;

/// Wall-clock time one rule (or evidence expression) may take.
pub const TIME_LIMIT: Duration = Duration::from_secs(2);

/// Longest rule or evidence source accepted at load: bounds the work of one step and the depth
/// of the interpreter's recursion.
pub const MAX_RULE_LENGTH: usize = 4096;

/// Deepest bracket nesting accepted at load: the CEL parser and interpreter recurse once per
/// level, and a deep enough expression would overflow the stack (an abort, not a panic).
pub const MAX_NESTING: usize = 32;

const STEP_FUNCTION: &str = "__postura_step";
const ITERABLE_FUNCTION: &str = "__postura_iterable";

/// A rule rewritten to report its steps (see the module documentation).
#[derive(Debug, Clone)]
pub struct Guarded {
    expression: IdedExpr,
}

impl Guarded {
    pub fn new(program: &cel::Program) -> Guarded {
        let mut expression = program.expression().clone();
        instrument(&mut expression);
        Guarded { expression }
    }
}

/// Cheap checks on a rule's source before it reaches the CEL parser, whose recursion is not
/// bounded by the input: length and bracket nesting.
pub fn check_source(source: &str) -> Result<(), String> {
    if source.len() > MAX_RULE_LENGTH {
        return Err(format!("is {} bytes long; at most {MAX_RULE_LENGTH} are accepted", source.len()));
    }
    let mut depth = 0usize;
    let mut deepest = 0usize;
    let mut quote: Option<char> = None;
    let mut escaped = false;
    for c in source.chars() {
        if let Some(q) = quote {
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == q {
                quote = None;
            }
            continue;
        }
        match c {
            '"' | '\'' => quote = Some(c),
            '(' | '[' | '{' => {
                depth += 1;
                deepest = deepest.max(depth);
            }
            ')' | ']' | '}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    if deepest > MAX_NESTING {
        return Err(format!("nests brackets {deepest} deep; at most {MAX_NESTING} levels are accepted"));
    }
    Ok(())
}

fn call(func_name: &str, args: Vec<IdedExpr>) -> IdedExpr {
    IdedExpr { id: 0, expr: Expr::Call(CallExpr { func_name: func_name.to_string(), target: None, args }) }
}

/// Wrap the range and the loop condition of every comprehension (recursion depth is bounded
/// by [`MAX_NESTING`] and [`MAX_RULE_LENGTH`], checked before parsing).
fn instrument(expression: &mut IdedExpr) {
    match &mut expression.expr {
        Expr::Comprehension(comprehension) => {
            for part in [
                &mut comprehension.iter_range,
                &mut comprehension.accu_init,
                &mut comprehension.loop_cond,
                &mut comprehension.loop_step,
                &mut comprehension.result,
            ] {
                instrument(part);
            }
            let range = std::mem::take(&mut comprehension.iter_range);
            comprehension.iter_range = call(ITERABLE_FUNCTION, vec![range]);
            let condition = std::mem::take(&mut comprehension.loop_cond);
            comprehension.loop_cond = call(operators::LOGICAL_AND, vec![call(STEP_FUNCTION, Vec::new()), condition]);
        }
        Expr::Call(call) => {
            if let Some(target) = &mut call.target {
                instrument(target);
            }
            call.args.iter_mut().for_each(instrument);
        }
        Expr::List(list) => list.elements.iter_mut().for_each(instrument),
        Expr::Map(map) => {
            for entry in &mut map.entries {
                if let cel::common::ast::EntryExpr::MapEntry(e) = &mut entry.expr {
                    instrument(&mut e.key);
                    instrument(&mut e.value);
                }
            }
        }
        Expr::Select(select) => instrument(&mut select.operand),
        Expr::Struct(_) | Expr::Ident(_) | Expr::Literal(_) | Expr::Unspecified => {}
    }
}

#[derive(Debug, Default)]
struct MeterState {
    steps: u64,
    deadline: Option<Instant>,
    exceeded: Option<String>,
}

/// The step counter and deadline of the expression being evaluated in one context.
#[derive(Debug, Clone, Default)]
pub struct Meter {
    state: Arc<Mutex<MeterState>>,
}

impl Meter {
    /// Register the step and range functions in `context` (a root context).
    pub fn install(&self, context: &mut Context<'_>) {
        let state = self.state.clone();
        context.add_function(STEP_FUNCTION, move || -> Result<Value, ExecutionError> {
            let mut state = state.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            state.steps += 1;
            let over = if state.steps > STEP_LIMIT {
                Some(format!("more than {STEP_LIMIT} comprehension steps"))
            } else if state.steps % 64 == 0 && state.deadline.is_some_and(|d| Instant::now() > d) {
                Some(format!("more than {} ms", TIME_LIMIT.as_millis()))
            } else {
                None
            };
            match over {
                Some(reason) => {
                    state.exceeded.get_or_insert(reason.clone());
                    Err(ExecutionError::function_error(STEP_FUNCTION, format!("rule exceeded its budget ({reason})")))
                }
                None => Ok(Value::Bool(true)),
            }
        });
        context.add_function(ITERABLE_FUNCTION, |range: Value| -> Result<Value, ExecutionError> {
            match range {
                Value::List(_) | Value::Map(_) => Ok(range),
                other => Err(ExecutionError::function_error(
                    "comprehension",
                    format!("ranges over {}, not a list or map", type_name(&other)),
                )),
            }
        });
    }

    fn start(&self) {
        let mut state = self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        *state = MeterState { steps: 0, deadline: Some(Instant::now() + TIME_LIMIT), exceeded: None };
    }

    fn finish(&self) -> (u64, Option<String>) {
        let mut state = self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        (state.steps, state.exceeded.take())
    }
}

/// How the evaluation of one guarded expression ended.
#[derive(Debug)]
pub enum Outcome {
    Value(Value),
    /// The rule raised an error (no such key, no such overload, …).
    Error(String),
    /// The rule went over its step or time budget.
    OverBudget(String),
    /// The interpreter panicked; the message is the panic's.
    Panicked(String),
}

thread_local! {
    /// Set while a rule is evaluated on this thread, so that the panic hook stays quiet about
    /// panics that are caught and reported as the rule's error.
    static EVALUATING: Cell<bool> = const { Cell::new(false) };
}

fn quiet_panics_during_evaluation() {
    static INSTALL: Once = Once::new();
    INSTALL.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if !EVALUATING.with(Cell::get) {
                previous(info);
            }
        }));
    });
}

/// Evaluate `guarded` in `context`, whose root was given `meter`'s functions.
pub fn evaluate(guarded: &Guarded, context: &Context<'_>, meter: &Meter) -> Outcome {
    quiet_panics_during_evaluation();
    meter.start();
    EVALUATING.with(|flag| flag.set(true));
    let result = catch_unwind(AssertUnwindSafe(|| Value::resolve(&guarded.expression, context)));
    EVALUATING.with(|flag| flag.set(false));
    let (_, exceeded) = meter.finish();
    match (result, exceeded) {
        (_, Some(reason)) => Outcome::OverBudget(format!("rule exceeded its budget ({reason})")),
        (Ok(Ok(value)), None) => Outcome::Value(value),
        (Ok(Err(error)), None) => Outcome::Error(error.to_string()),
        (Err(payload), None) => {
            let message = payload
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic".into());
            Outcome::Panicked(message)
        }
    }
}

fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Int(_) | Value::UInt(_) => "an integer",
        Value::Float(_) => "a number",
        Value::String(_) => "a string",
        Value::Bytes(_) => "bytes",
        _ => "a value",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(source: &str) -> Outcome {
        let program = cel::Program::compile(source).unwrap();
        let meter = Meter::default();
        let mut context = Context::default();
        meter.install(&mut context);
        let list: Vec<Value> = (0..300).map(Value::Int).collect();
        context.add_variable_from_value("a", Value::List(Arc::new(list)));
        context.add_variable_from_value("n", Value::Int(3));
        evaluate(&Guarded::new(&program), &context, &meter)
    }

    #[test]
    fn nested_comprehensions_stop_at_the_step_budget() {
        let started = Instant::now();
        let outcome = run("a.all(x, a.all(y, a.all(z, x + y + z >= 0)))");
        assert!(matches!(&outcome, Outcome::OverBudget(m) if m.contains("rule exceeded its budget")), "{outcome:?}");
        // Either budget may end it first on a loaded machine; neither lets it run on.
        assert!(started.elapsed() < TIME_LIMIT + Duration::from_secs(5), "{:?}", started.elapsed());
    }

    #[test]
    fn small_comprehensions_are_evaluated() {
        assert!(matches!(run("a.all(x, x >= 0) && a.exists(x, x == 299)"), Outcome::Value(Value::Bool(true))));
        let outcome = run("size(a.map(x, x * 2).filter(x, x > 590)) == 4");
        assert!(matches!(outcome, Outcome::Value(Value::Bool(true))), "{outcome:?}");
    }

    #[test]
    fn a_comprehension_over_a_scalar_is_an_error_not_a_panic() {
        let outcome = run("n.all(c, true)");
        assert!(matches!(&outcome, Outcome::Error(m) if m.contains("ranges over an integer")), "{outcome:?}");
    }

    #[test]
    fn deep_or_long_sources_are_refused_before_parsing() {
        assert!(check_source(&format!("{}1{}", "(".repeat(40), ")".repeat(40))).is_err());
        assert!(check_source(&"1 + ".repeat(2000)).is_err());
        assert!(check_source("a.all(x, '((((((((((((((((((((((((((((((((((((((((' != x)").is_ok());
    }
}
