//! The role × operation matrix, driven by the exported spec.
//!
//! [`ROLE_TABLE`] says who may call each operation. Every operation of the spec must have a row
//! (a new endpoint without one fails `every_operation_has_a_row_in_the_role_table`, naming it),
//! and every row must name an operation of the spec. The matrix test then calls every secured
//! operation, with its real method and a request built from the spec (nil UUIDs for path ids,
//! the schema's example or its required fields for the body, its required query parameters), as
//! nobody, with a garbage or forged token, as every role, and with expired tokens.
//!
//! The request is well-formed on purpose: poem-openapi parses the body and the parameters before
//! the handler runs, so a malformed request would be refused (400) before the role gate could
//! answer 403. An allowed role then gets past the gate: anything but 401/403 (typically a 404 for
//! the nil ids, or 200).

use krug_testkit::backend_test;
use reqwest::Method;
use serde_json::{Map, Value, json};

use crate::common::*;

/// The callers of the matrix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Who {
    Member,
    Cashier,
    Manager,
    Owner,
    Operator,
    Superadmin,
}

const EVERYONE: [Who; 6] = [Who::Member, Who::Cashier, Who::Manager, Who::Owner, Who::Operator, Who::Superadmin];

/// Who may call an operation.
#[derive(Debug, Clone, Copy)]
enum Access {
    /// No token needed (health, sign-in). The spec must declare no security.
    Public,
    /// A bearer token of one of these roles; every other role gets 403 `forbidden`.
    Roles(&'static [Who]),
}

use Access::{Public, Roles};

const MEMBER: &[Who] = &[Who::Member];
/// Scans and refunds at one's own business.
const COUNTER: &[Who] = &[Who::Cashier, Who::Manager, Who::Owner];
/// A partner's own views.
const BUSINESS: &[Who] = &[Who::Owner, Who::Manager];
const OPERATOR: &[Who] = &[Who::Operator];
/// Staff accounts: the operator, and an owner for his own business.
const STAFF_ADMIN: &[Who] = &[Who::Operator, Who::Owner];
/// Appliance administration.
const SUPERADMIN: &[Who] = &[Who::Superadmin];
/// Anyone inside a tenant (not the superadmin, who has none).
const TENANT: &[Who] = &[Who::Member, Who::Cashier, Who::Manager, Who::Owner, Who::Operator];

/// operation_id → who may call it. Add a row for every new operation.
const ROLE_TABLE: &[(&str, Access)] = &[
    ("healthz", Public),
    ("readyz", Public),
    ("metrics", Public),
    ("auth_sms_code", Public),
    ("auth_sms_verify", Public),
    ("auth_staff_login", Public),
    ("auth_superadmin_login", Public),
    ("auth_refresh", Public),
    ("auth_logout", Public),
    ("me_profile", Roles(MEMBER)),
    ("me_balance", Roles(MEMBER)),
    ("me_history", Roles(MEMBER)),
    ("me_status", Roles(MEMBER)),
    ("me_qr_secret", Roles(MEMBER)),
    ("me_qr", Roles(MEMBER)),
    ("me_purchases", Roles(MEMBER)),
    // The partners and the tier ladder are no one's personal data: any tenant principal.
    ("me_catalogue", Roles(TENANT)),
    ("scan", Roles(COUNTER)),
    ("refund", Roles(COUNTER)),
    ("business_clients", Roles(BUSINESS)),
    ("business_clients_csv", Roles(BUSINESS)),
    ("business_purchases", Roles(BUSINESS)),
    ("business_purchases_csv", Roles(BUSINESS)),
    ("operator_adjust", Roles(OPERATOR)),
    ("operator_invite", Roles(OPERATOR)),
    ("operator_uninvite", Roles(OPERATOR)),
    ("operator_settlement", Roles(OPERATOR)),
    ("operator_budget", Roles(OPERATOR)),
    ("operator_audit", Roles(OPERATOR)),
    ("me_update_profile", Roles(MEMBER)),
    ("me_consents", Roles(MEMBER)),
    ("me_grant_consent", Roles(MEMBER)),
    ("me_withdraw_consent", Roles(MEMBER)),
    ("counter_lookup", Roles(COUNTER)),
    ("counter_lookup_confirm", Roles(COUNTER)),
    // An owner manages his own business's cashiers and managers (the handler narrows further).
    ("staff_list", Roles(STAFF_ADMIN)),
    ("staff_create", Roles(STAFF_ADMIN)),
    ("staff_update", Roles(STAFF_ADMIN)),
    ("config_get", Roles(OPERATOR)),
    ("config_put", Roles(OPERATOR)),
    ("businesses_list", Roles(OPERATOR)),
    ("admin_tenants", Roles(SUPERADMIN)),
    ("admin_create_tenant", Roles(SUPERADMIN)),
    ("admin_suspend_tenant", Roles(SUPERADMIN)),
    ("admin_resume_tenant", Roles(SUPERADMIN)),
    // The events hub (issue #7).
    ("me_events_upcoming", Roles(MEMBER)),
    ("me_event_registrations", Roles(MEMBER)),
    ("events_past", Roles(TENANT)),
    ("event_register", Roles(MEMBER)),
    ("event_cancel_registration", Roles(MEMBER)),
    ("event_check_in", Roles(VENUE_STAFF)),
    ("event_attendees", Roles(VENUE_STAFF)),
    ("business_event_propose", Roles(OWNER)),
    ("business_events", Roles(BUSINESS)),
    ("operator_event_create", Roles(OPERATOR)),
    ("operator_events", Roles(OPERATOR)),
    ("operator_event_publish", Roles(OPERATOR)),
    ("operator_event_cancel", Roles(OPERATOR)),
    ("operator_event_finish", Roles(OPERATOR)),
    ("me_event_propose", Roles(MEMBER)),
    ("event_proposals", Roles(MEMBER_OR_OPERATOR)),
    ("event_proposal_vote", Roles(MEMBER)),
    ("event_proposal_results", Roles(MEMBER_OR_OPERATOR)),
    ("events_budget_summary", Roles(TENANT)),
    ("business_budget_statement", Roles(BUSINESS)),
    ("operator_proposal_moderate", Roles(OPERATOR)),
    ("operator_proposal_convert", Roles(OPERATOR)),
    ("operator_budget_allocate", Roles(OPERATOR)),
    ("operator_budget_spend", Roles(OPERATOR)),
    ("operator_budget_ledger", Roles(OPERATOR)),
    ("operator_budget_ledger_csv", Roles(OPERATOR)),
    // Coupon templates and codes: an owner for his business's templates, the operator for all.
    ("coupon_template_create", Roles(STAFF_ADMIN)),
    ("coupon_templates", Roles(STAFF_ADMIN)),
    ("coupon_template_get", Roles(STAFF_ADMIN)),
    ("coupon_template_revoke", Roles(STAFF_ADMIN)),
    ("coupon_issue_bulk", Roles(STAFF_ADMIN)),
    ("coupon_promo_create", Roles(STAFF_ADMIN)),
    ("coupon_issue_personal", Roles(STAFF_ADMIN)),
    ("coupon_preview", Roles(COUNTER)),
    ("me_coupons", Roles(MEMBER)),
    // Offers: a partner authors its own (the handler scopes to the token's business); only the
    // operator approves, rejects and archives.
    ("business_offer_create", Roles(BUSINESS)),
    ("business_offers", Roles(BUSINESS)),
    ("business_offer", Roles(BUSINESS)),
    ("business_offer_edit", Roles(BUSINESS)),
    ("business_offer_submit", Roles(BUSINESS)),
    ("business_offer_pause", Roles(BUSINESS)),
    ("business_offer_resume", Roles(BUSINESS)),
    ("business_offer_dry_run", Roles(BUSINESS)),
    ("business_offer_backtest", Roles(BUSINESS)),
    ("business_offer_analytics", Roles(BUSINESS)),
    ("operator_offers_submitted", Roles(OPERATOR)),
    ("operator_offer_approve", Roles(OPERATOR)),
    ("operator_offer_reject", Roles(OPERATOR)),
    ("operator_offer_pause", Roles(OPERATOR)),
    ("operator_offer_archive", Roles(OPERATOR)),
    ("me_badges", Roles(MEMBER)),
    // Cross-promo chains: the operator and partners' owners manage; only an owner approves (his
    // own business's steps); members see theirs and choose a fan-out branch.
    ("chain_draft", Roles(STAFF_ADMIN)),
    ("chain_list", Roles(STAFF_ADMIN)),
    ("chain_get", Roles(STAFF_ADMIN)),
    ("chain_approve", Roles(&[Who::Owner])),
    ("chain_start", Roles(STAFF_ADMIN)),
    ("chain_pause", Roles(STAFF_ADMIN)),
    ("chain_analytics", Roles(STAFF_ADMIN)),
    ("chain_analytics_csv", Roles(STAFF_ADMIN)),
    ("me_chains", Roles(MEMBER)),
    ("me_chain_choose", Roles(MEMBER)),
];

/// Check-in and attendance: the venue's staff and the operator.
const VENUE_STAFF: &[Who] = &[Who::Cashier, Who::Manager, Who::Owner, Who::Operator];
/// A partner's owner only (proposing an event at his venue).
const OWNER: &[Who] = &[Who::Owner];
/// Proposals and their results: members (narrowed to what they may see) and the operator.
const MEMBER_OR_OPERATOR: &[Who] = &[Who::Member, Who::Operator];

fn access(operation_id: &str) -> Access {
    match ROLE_TABLE.iter().find(|(id, _)| *id == operation_id) {
        Some((_, access)) => *access,
        None => panic!("add {operation_id} to the role table (appliance/tests/api/roles.rs)"),
    }
}

/// One operation of the spec.
struct Operation {
    id: String,
    method: Method,
    /// The path template, `{member_id}` style.
    path: String,
    secured: bool,
    parameters: Vec<Value>,
    body: Option<Value>,
}

/// The exported spec (the JSON form of what `openapi/krug.yaml` holds).
struct Spec {
    doc: Value,
}

impl Spec {
    fn load() -> Spec {
        Spec { doc: serde_json::from_str(&krug_appliance::http::service().spec()).unwrap() }
    }

    fn operations(&self) -> Vec<Operation> {
        let mut ops = Vec::new();
        for (path, item) in self.doc["paths"].as_object().unwrap() {
            for (method, op) in item.as_object().unwrap() {
                let method = match method.as_str() {
                    "get" => Method::GET,
                    "post" => Method::POST,
                    "put" => Method::PUT,
                    "patch" => Method::PATCH,
                    "delete" => Method::DELETE,
                    other => panic!("{path}: unexpected method {other}"),
                };
                let security = op.get("security").and_then(Value::as_array);
                ops.push(Operation {
                    id: op["operationId"].as_str().unwrap_or_else(|| panic!("{path}: no operationId")).to_owned(),
                    method,
                    path: path.clone(),
                    secured: security.is_some_and(|s| !s.is_empty()),
                    parameters: op.get("parameters").and_then(Value::as_array).cloned().unwrap_or_default(),
                    body: op
                        .pointer("/requestBody/content")
                        .and_then(Value::as_object)
                        .and_then(|c| c.values().next())
                        .map(|media| media["schema"].clone()),
                });
            }
        }
        ops
    }

    fn resolve<'a>(&'a self, schema: &'a Value) -> &'a Value {
        match schema.get("$ref").and_then(Value::as_str) {
            Some(r) => self.resolve(self.doc.pointer(r.trim_start_matches('#')).unwrap()),
            None => match schema.get("allOf").and_then(Value::as_array).and_then(|a| a.first()) {
                Some(first) => self.resolve(first),
                None => schema,
            },
        }
    }

    /// A plausible, well-formed value of `schema`: its example if it has one, otherwise its
    /// required fields filled in.
    fn sample(&self, name: &str, schema: &Value) -> Value {
        let schema = self.resolve(schema);
        if let Some(example) = schema.get("example") {
            return example.clone();
        }
        match schema["type"].as_str() {
            Some("object") => {
                let required: Vec<&str> = schema["required"]
                    .as_array()
                    .map(|r| r.iter().filter_map(Value::as_str).collect())
                    .unwrap_or_default();
                let mut out = Map::new();
                for (field, prop) in schema["properties"].as_object().cloned().unwrap_or_default() {
                    if required.contains(&field.as_str()) {
                        let value = self.sample(&field, &prop);
                        out.insert(field, value);
                    }
                }
                Value::Object(out)
            }
            Some("integer") => json!(1),
            Some("number") => json!(1),
            Some("boolean") => json!(true),
            Some("array") => json!([]),
            Some("string") => match (schema["format"].as_str(), name) {
                (Some("date-time"), "to") => json!("2026-04-01T00:00:00Z"),
                (Some("date-time"), _) => json!("2026-03-01T00:00:00Z"),
                (Some("date"), _) => json!("1990-05-17"),
                (Some("uuid"), _) => json!(NIL),
                (_, "tenant") => json!("svoy-krug"),
                _ => json!("sample"),
            },
            _ => panic!("cannot build a sample {name}: {schema}"),
        }
    }

    /// A request for `op` that parses: ids in the path, required query and header parameters,
    /// and a body when the operation takes one.
    fn request(&self, app: &TestApp, op: &Operation, token: Option<&str>) -> reqwest::RequestBuilder {
        let mut path = op.path.clone();
        let mut query = Vec::new();
        let mut headers = Vec::new();
        for p in &op.parameters {
            let name = p["name"].as_str().unwrap();
            match p["in"].as_str().unwrap() {
                "path" => path = path.replace(&format!("{{{name}}}"), NIL),
                "query" | "header" if !p["required"].as_bool().unwrap_or(false) => {}
                location => {
                    let value = match self.sample(name, &p["schema"]) {
                        Value::String(s) => s,
                        other => other.to_string(),
                    };
                    if location == "query" {
                        query.push((name.to_owned(), value));
                    } else if location == "header" {
                        headers.push((name.to_owned(), value));
                    } else {
                        panic!("{}: parameters in {location} are not supported here", op.id);
                    }
                }
            }
        }
        let mut req = app.http.request(op.method.clone(), format!("{}{}", app.base, path)).query(&query);
        for (name, value) in headers {
            req = req.header(name, value);
        }
        if let Some(schema) = &op.body {
            req = req.json(&self.sample("body", schema));
        }
        if let Some(token) = token {
            req = req.bearer_auth(token);
        }
        req
    }
}

const NIL: &str = "00000000-0000-0000-0000-000000000000";

#[test]
fn every_operation_has_a_row_in_the_role_table() {
    let spec = Spec::load();
    let ops = spec.operations();
    let missing: Vec<String> = ops
        .iter()
        .filter(|op| !ROLE_TABLE.iter().any(|(id, _)| *id == op.id))
        .map(|op| format!("add {} to the role table", op.id))
        .collect();
    assert!(missing.is_empty(), "{}", missing.join("\n"));
    for (id, access) in ROLE_TABLE {
        let op = ops
            .iter()
            .find(|op| op.id == *id)
            .unwrap_or_else(|| panic!("{id} is in the role table but not in the spec"));
        match access {
            Public => assert!(!op.secured, "{id} is public in the table but the spec asks for a token"),
            Roles(roles) => {
                assert!(op.secured, "{id} needs a role in the table but the spec asks for no token");
                assert!(!roles.is_empty(), "{id}: name at least one role");
            }
        }
    }
    let mut ids: Vec<&str> = ROLE_TABLE.iter().map(|(id, _)| *id).collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), ROLE_TABLE.len(), "the role table names an operation twice");
}

/// A token signed with a key the appliance does not have, for a role that would be allowed.
fn forged(token: &str) -> String {
    let mut parts: Vec<String> = token.split('.').map(str::to_owned).collect();
    let sig = parts.pop().unwrap();
    let flipped = match sig.strip_prefix('A') {
        Some(rest) => format!("B{rest}"),
        None => format!("A{}", &sig[1..]),
    };
    parts.push(flipped);
    parts.join(".")
}

backend_test!(
    async fn every_operation_admits_exactly_its_roles(db: TestDb) {
        let app = TestApp::spawn(db).await;
        let member = app.member("svoy-krug", "+7 912 000-00-01").await;
        let cashier = app.staff("svoy-krug", "mindal.cashier", krug::Role::Cashier, Some("mindal")).await;
        let manager = app.staff("svoy-krug", "mindal.manager", krug::Role::Manager, Some("mindal")).await;
        let owner = app.staff("svoy-krug", "mindal.owner", krug::Role::Owner, Some("mindal")).await;
        let operator = app.staff("svoy-krug", "olga", krug::Role::Operator, None).await;
        let superadmin = app.superadmin().await;
        let token = |who: Who| -> &str {
            match who {
                Who::Member => &member.access,
                Who::Cashier => &cashier.access,
                Who::Manager => &manager.access,
                Who::Owner => &owner.access,
                Who::Operator => &operator.access,
                Who::Superadmin => &superadmin.access,
            }
        };

        let spec = Spec::load();
        let ops = spec.operations();
        let mut secured = 0;
        for op in &ops {
            let what = format!("{} {} ({})", op.method, op.path, op.id);
            let Roles(allowed) = access(&op.id) else {
                // Public: answers without a token (the status is the operation's business).
                let r = read_reply(spec.request(&app, op, None)).await;
                assert!(r.status != 403, "{what}: public, yet {:?}", r.body);
                continue;
            };
            secured += 1;
            let r = read_reply(spec.request(&app, op, None)).await;
            assert_problem(&r, 401, "unauthorized", &format!("{what} without a token"));
            let r = read_reply(spec.request(&app, op, Some("not-a-jwt"))).await;
            assert_problem(&r, 401, "unauthorized", &format!("{what} with a garbage token"));
            let r = read_reply(spec.request(&app, op, Some(&forged(token(allowed[0]))))).await;
            assert_problem(&r, 401, "unauthorized", &format!("{what} with a forged signature"));
            for who in EVERYONE {
                let r = read_reply(spec.request(&app, op, Some(token(who)))).await;
                if allowed.contains(&who) {
                    assert!(
                        r.status != 401 && r.status != 403,
                        "{what} as {who:?} (allowed) was refused: {} {:?}",
                        r.status,
                        r.body
                    );
                } else {
                    assert_problem(&r, 403, "forbidden", &format!("{what} as {who:?}"));
                }
            }
        }
        assert_eq!(secured, ROLE_TABLE.iter().filter(|(_, a)| matches!(a, Roles(_))).count());

        // Access tokens live 15 minutes: past that, every role's token is refused everywhere.
        app.clock.advance(time::Duration::minutes(16));
        for op in &ops {
            let Roles(allowed) = access(&op.id) else { continue };
            for who in allowed {
                let r = read_reply(spec.request(&app, op, Some(token(*who)))).await;
                assert_problem(&r, 401, "unauthorized", &format!("{} {} as {who:?} after 16 min", op.method, op.path));
            }
        }
        // A refreshed member and a signed-in staff member are let in again.
        let member = app.refresh("svoy-krug", &member).await;
        assert_eq!(app.get("/v1/me/balance", Some(&member.access)).await.status, 200);
        let owner = app.staff_login("svoy-krug", "mindal.owner").await;
        assert_eq!(app.get("/v1/business/clients", Some(&owner.access)).await.status, 200);
    }
);

#[track_caller]
fn assert_problem(r: &Reply, status: u16, code: &str, what: &str) {
    assert_eq!((r.status, r.code()), (status, code), "{what}: {:?}", r.body);
    assert_eq!(r.content_type, "application/problem+json", "{what}");
}
