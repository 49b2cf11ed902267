//! The Rhai sandbox offers run in.
//!
//! Invariants:
//! - the engine is raw (no standard library beyond core, logic and string functions), with a
//!   module resolver that refuses every import, `eval` disabled, strict variables, integer-only
//!   arithmetic (`no_float`), and the tenant's operation, depth and size limits;
//! - a script sees `purchase`, `member` and `business` as constants and can only act through the
//!   five effect functions, which record into a per-run collector on the running thread;
//! - a run never panics and never blocks: every failure is a [`ScriptFailure`].

use std::cell::RefCell;

use rhai::packages::{BasicStringPackage, CorePackage, LogicPackage, Package as _};
use rhai::{AST, Dynamic, Engine, EvalAltResult, Map, Scope};

use super::model::{Effects, MemberFacts, OfferLimits, PurchaseFacts, ScriptFailure, valid_code};
use crate::types::{Bonus, BusinessId, Category};

/// The most coupon or badge effects one run may ask for.
const MAX_NAMED_EFFECTS: usize = 16;

/// The most percent `multiply` accepts (10× the cashback).
const MAX_MULTIPLY_PERCENT: i64 = 1_000;

thread_local! {
    /// The effects of the run in progress on this thread; `None` outside a run.
    static COLLECTOR: RefCell<Option<Effects>> = const { RefCell::new(None) };
}

type Fallible = Result<(), Box<EvalAltResult>>;

fn record(f: impl FnOnce(&mut Effects) -> Result<(), String>) -> Fallible {
    COLLECTOR.with(|c| match c.borrow_mut().as_mut() {
        Some(effects) => f(effects).map_err(Into::into),
        None => Err("effects can only be called while an offer runs".into()),
    })
}

/// The business as a script sees it.
#[derive(Debug, Clone)]
pub struct BusinessFacts {
    /// `business.id`.
    pub id: BusinessId,
    /// `business.category`.
    pub category: Category,
}

/// The facts of one evaluation.
#[derive(Debug, Clone)]
pub struct Facts<'a> {
    /// `purchase.*`.
    pub purchase: &'a PurchaseFacts,
    /// `member.*`.
    pub member: &'a MemberFacts,
    /// `business.*`.
    pub business: &'a BusinessFacts,
}

/// One configured engine; cheap to share (`Sync`), built once per distinct [`OfferLimits`].
pub struct Sandbox {
    engine: Engine,
    max_script_bytes: usize,
}

impl std::fmt::Debug for Sandbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sandbox").finish_non_exhaustive()
    }
}

impl Sandbox {
    /// An engine with exactly the offer contract and the given limits.
    pub fn new(limits: &OfferLimits) -> Sandbox {
        let mut engine = Engine::new_raw();
        engine.register_global_module(CorePackage::new().as_shared_module());
        engine.register_global_module(LogicPackage::new().as_shared_module());
        engine.register_global_module(BasicStringPackage::new().as_shared_module());
        engine.set_module_resolver(rhai::module_resolvers::DummyModuleResolver::new());
        engine.set_max_modules(0);
        // `import` and `eval` are refused when the script is compiled, not only when it runs.
        engine.disable_symbol("import");
        engine.disable_symbol("eval");
        engine.set_strict_variables(true);
        engine.set_fail_on_invalid_map_property(true);
        engine.set_max_operations(limits.max_operations);
        engine.set_max_expr_depths(limits.max_expr_depth, limits.max_expr_depth);
        engine.set_max_call_levels(limits.max_call_levels);
        engine.set_max_string_size(limits.max_string_size);
        engine.set_max_array_size(limits.max_array_size);
        engine.set_max_map_size(limits.max_map_size);

        engine.register_fn("bonus", |kopecks: i64| -> Fallible {
            record(|e| {
                let add = Bonus::non_negative(kopecks).map_err(|err| format!("bonus({kopecks}): {err}"))?;
                e.bonus = e.bonus.checked_add(add).ok_or("bonus: total out of range")?;
                Ok(())
            })
        });
        engine.register_fn("bonus_rate", |bps: i64| -> Fallible {
            record(|e| {
                let add = u32::try_from(bps)
                    .ok()
                    .filter(|b| *b <= 10_000)
                    .ok_or_else(|| format!("bonus_rate({bps}): must be 0..=10000 bps"))?;
                e.bonus_rate_bps = e.bonus_rate_bps.saturating_add(add).min(10_000);
                Ok(())
            })
        });
        engine.register_fn("multiply", |percent: i64| -> Fallible {
            record(|e| {
                let p = u32::try_from(percent)
                    .ok()
                    .filter(|p| i64::from(*p) <= MAX_MULTIPLY_PERCENT)
                    .ok_or_else(|| format!("multiply({percent}): must be 0..={MAX_MULTIPLY_PERCENT} percent"))?;
                e.multiply_percent = Some(e.multiply_percent.map_or(p, |q| q.max(p)));
                Ok(())
            })
        });
        engine.register_fn("issue_coupon", |template: &str| -> Fallible {
            record(|e| push_name(&mut e.coupons, "issue_coupon", template))
        });
        engine.register_fn("award_badge", |code: &str| -> Fallible {
            record(|e| push_name(&mut e.badges, "award_badge", code))
        });
        Sandbox { engine, max_script_bytes: limits.max_script_bytes }
    }

    /// Compiles a script against the offer contract: unknown variables, `import`, `eval` and
    /// syntax errors are refused here, at save time, with the engine's message.
    pub fn compile(&self, script: &str) -> Result<AST, String> {
        if script.len() > self.max_script_bytes {
            return Err(format!("the script is longer than {} bytes", self.max_script_bytes));
        }
        if script.trim().is_empty() {
            return Err("the script is empty".into());
        }
        // Declared with push (not push_constant) so the optimiser cannot fold sample values in.
        let mut scope = Scope::new();
        scope.push("purchase", Map::new());
        scope.push("member", Map::new());
        scope.push("business", Map::new());
        self.engine.compile_with_scope(&scope, script).map_err(|e| e.to_string())
    }

    /// The scope every script of one purchase runs in: `purchase`, `member` and `business` as
    /// constants. Build it once per purchase and pass it to [`Sandbox::run`] for each offer.
    pub fn scope(&self, facts: &Facts<'_>) -> Scope<'static> {
        let mut scope = Scope::new();
        scope.push_constant("purchase", purchase_map(facts.purchase));
        scope.push_constant("member", member_map(facts.member));
        scope.push_constant("business", business_map(facts.business));
        scope
    }

    /// Runs a compiled script in `scope` (from [`Sandbox::scope`]); whatever the script declared
    /// is removed afterwards, so the next offer sees the same three constants only.
    pub fn run(&self, scope: &mut Scope<'static>, ast: &AST) -> Result<Effects, ScriptFailure> {
        let inputs = scope.len();
        COLLECTOR.with(|c| *c.borrow_mut() = Some(Effects::default()));
        let outcome = self.engine.run_ast_with_scope(scope, ast);
        let effects = COLLECTOR.with(|c| c.borrow_mut().take()).unwrap_or_default();
        scope.rewind(inputs);
        match outcome {
            Ok(()) => Ok(effects),
            Err(err) => Err(classify(&err)),
        }
    }

    /// Compiles and runs `script` once on `facts` (dry runs and example checks).
    pub fn run_once(&self, ast: &AST, facts: &Facts<'_>) -> Result<Effects, ScriptFailure> {
        self.run(&mut self.scope(facts), ast)
    }
}

fn push_name(list: &mut Vec<String>, function: &str, name: &str) -> Result<(), String> {
    if !valid_code(name) {
        return Err(format!("{function}({name:?}): must be 1–40 of a-z 0-9 - _, starting with a letter"));
    }
    if list.len() >= MAX_NAMED_EFFECTS {
        return Err(format!("{function}: at most {MAX_NAMED_EFFECTS} per run"));
    }
    list.push(name.to_owned());
    Ok(())
}

fn classify(err: &EvalAltResult) -> ScriptFailure {
    match err {
        EvalAltResult::ErrorTooManyOperations(..)
        | EvalAltResult::ErrorDataTooLarge(..)
        | EvalAltResult::ErrorStackOverflow(..)
        | EvalAltResult::ErrorTooManyModules(..) => ScriptFailure::Limit(err.to_string()),
        _ => ScriptFailure::Runtime(err.to_string()),
    }
}

fn int(v: i64) -> Dynamic {
    Dynamic::from_int(v)
}

fn purchase_map(p: &PurchaseFacts) -> Map {
    let mut m = Map::new();
    m.insert("amount".into(), int(p.amount.get()));
    m.insert("paid".into(), int(p.paid.get()));
    m.insert("category".into(), p.category.as_str().into());
    m.insert("business".into(), p.business.as_str().into());
    m.insert("weekday".into(), int(i64::from(p.weekday)));
    m.insert("hour".into(), int(i64::from(p.hour)));
    m.insert("date".into(), p.date.to_string().into());
    m
}

fn member_map(m: &MemberFacts) -> Map {
    let mut out = Map::new();
    out.insert("tier".into(), m.tier.as_ref().map_or("", |t| t.as_str()).into());
    out.insert("days_since_joining".into(), int(m.days_since_joining));
    out.insert("visits".into(), int(m.visits));
    out.insert("spend".into(), int(m.spend.get()));
    out.insert("categories".into(), int(m.categories));
    out.insert("birthday_today".into(), Dynamic::from_bool(m.birthday_today));
    out.insert("birthday_this_week".into(), Dynamic::from_bool(m.birthday_this_week));
    out.insert("days_since_last_visit".into(), int(m.days_since_last_visit.unwrap_or(-1)));
    out
}

fn business_map(b: &BusinessFacts) -> Map {
    let mut m = Map::new();
    m.insert("id".into(), b.id.as_str().into());
    m.insert("category".into(), b.category.as_str().into());
    m
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::Kopecks;

    fn facts() -> (PurchaseFacts, MemberFacts, BusinessFacts) {
        let business = BusinessId::parse("skinerica").unwrap();
        let category = Category::parse("cosmetology").unwrap();
        let purchase = PurchaseFacts {
            amount: Kopecks::new(150_000).unwrap(),
            paid: Kopecks::new(150_000).unwrap(),
            category: category.clone(),
            business: business.clone(),
            weekday: 2,
            hour: 13,
            date: time::macros::date!(2026 - 03 - 03),
            cashback: Bonus::ZERO,
        };
        (purchase, MemberFacts::default(), BusinessFacts { id: business, category })
    }

    #[test]
    fn imports_eval_floats_and_unknown_variables_are_refused_at_compile_time() {
        let sandbox = Sandbox::new(&OfferLimits::default());
        for script in ["import \"x\" as y;", "eval(\"1\");", "let f = 1.5;", "bonus(nobody);", "bonus("] {
            assert!(sandbox.compile(script).is_err(), "{script}");
        }
        assert!(sandbox.compile("if purchase.weekday == 2 { multiply(200); }").is_ok());
    }

    #[test]
    fn one_offer_cannot_shadow_the_facts_the_next_offer_sees() {
        let sandbox = Sandbox::new(&OfferLimits::default());
        let (p, m, b) = facts();
        let mut scope = sandbox.scope(&Facts { purchase: &p, member: &m, business: &b });
        let first = sandbox.compile("let purchase = #{ amount: 0 }; bonus(purchase.amount);").unwrap();
        let second = sandbox.compile("bonus(purchase.amount / 100);").unwrap();
        assert_eq!(sandbox.run(&mut scope, &first).unwrap().bonus, Bonus::ZERO);
        assert_eq!(sandbox.run(&mut scope, &second).unwrap().bonus, Bonus::new(1_500).unwrap());
        // The facts are constants: assigning to them is a run-time error, not a change.
        let write = sandbox.compile("purchase.amount = 1;").unwrap();
        assert!(matches!(sandbox.run(&mut scope, &write), Err(ScriptFailure::Runtime(_))));
        assert_eq!(sandbox.run(&mut scope, &second).unwrap().bonus, Bonus::new(1_500).unwrap());
    }

    #[test]
    fn a_failed_run_leaves_no_effects_and_effects_outside_a_run_are_refused() {
        let sandbox = Sandbox::new(&OfferLimits { max_operations: 1_000, ..OfferLimits::default() });
        let (p, m, b) = facts();
        let facts = Facts { purchase: &p, member: &m, business: &b };
        let ast = sandbox.compile("bonus(100); award_badge(\"x\"); loop {}").unwrap();
        assert!(matches!(sandbox.run_once(&ast, &facts), Err(ScriptFailure::Limit(_))));
        assert!(record(|_| Ok(())).is_err());
        let deep = sandbox.compile("fn f(n) { f(n + 1) } f(0);").unwrap();
        assert!(matches!(sandbox.run_once(&deep, &facts), Err(ScriptFailure::Limit(_))));
    }
}
