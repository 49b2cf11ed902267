//! RFC 9457 problem details: the one shape of every error the API returns.
//!
//! Handlers return `Result<_, ApiError>`; poem's own failures (malformed JSON, a wrong type, an
//! unknown field, a missing token, an unknown route) are caught by [`catch_all`] and rewritten
//! into the same shape, so a client never parses a second error format. A 5xx body is opaque:
//! the cause goes to the log, never to the client.

use poem::http::StatusCode;
use poem::{IntoResponse, Response};
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Object};

/// Media type of problem bodies.
pub const PROBLEM_JSON: &str = "application/problem+json";

/// One field-level problem.
#[derive(Debug, Clone, Object, serde::Serialize)]
pub struct FieldProblem {
    /// Where: a JSON path or a configuration field path (`tiers[2].min_spend_kopecks`).
    pub field: String,
    /// What is wrong.
    pub message: String,
}

/// An RFC 9457 problem.
#[derive(Debug, Clone, Object, serde::Serialize)]
#[oai(example)]
pub struct Problem {
    /// A URI naming the problem type (`urn:krug:problem:<code>`).
    #[oai(rename = "type")]
    #[serde(rename = "type")]
    pub type_: String,
    /// Short, human-readable summary of the problem type.
    pub title: String,
    /// The HTTP status.
    pub status: u16,
    /// Human-readable explanation of this occurrence.
    pub detail: String,
    /// Stable machine-readable code (`insufficient_balance`).
    pub code: String,
    /// Field-level problems, when the input had several.
    #[oai(skip_serializing_if_is_none)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub errors: Option<Vec<FieldProblem>>,
}

impl Problem {
    /// A problem with `status`, stable `code` and `detail`.
    pub fn new(status: u16, code: &str, detail: impl Into<String>) -> Problem {
        let title = StatusCode::from_u16(status).ok().and_then(|s| s.canonical_reason()).unwrap_or("Error").to_owned();
        Problem {
            type_: format!("urn:krug:problem:{code}"),
            title,
            status,
            detail: detail.into(),
            code: code.to_owned(),
            errors: None,
        }
    }
}

impl poem_openapi::types::Example for Problem {
    fn example() -> Problem {
        Problem::new(409, "insufficient_balance", "insufficient balance: 120 bonus kopecks available, 500 requested")
    }
}

/// Every error an operation can answer with.
#[derive(Debug, ApiResponse)]
#[oai(bad_request_handler = "bad_request")]
pub enum ApiError {
    /// The request is malformed (JSON syntax, types, unknown fields, a malformed QR code).
    #[oai(status = 400, content_type = "application/problem+json")]
    BadRequest(Json<Problem>),
    /// Missing, expired or invalid credentials.
    #[oai(status = 401, content_type = "application/problem+json")]
    Unauthorized(Json<Problem>),
    /// Authenticated, but this role may not do this (or the tenant is suspended).
    #[oai(status = 403, content_type = "application/problem+json")]
    Forbidden(Json<Problem>),
    /// No such resource in your tenant.
    #[oai(status = 404, content_type = "application/problem+json")]
    NotFound(Json<Problem>),
    /// Conflicts with the current state (insufficient balance, reused key, used QR code).
    #[oai(status = 409, content_type = "application/problem+json")]
    Conflict(Json<Problem>),
    /// Well-formed but refused by a rule (amount, cap, expired code, invalid configuration).
    #[oai(status = 422, content_type = "application/problem+json")]
    Unprocessable(Json<Problem>),
    /// Too many requests; retry after the given number of seconds.
    #[oai(status = 429, content_type = "application/problem+json")]
    TooManyRequests(Json<Problem>, #[oai(header = "Retry-After")] u32),
    /// Something failed on our side; the body says nothing more.
    #[oai(status = 500, content_type = "application/problem+json")]
    Internal(Json<Problem>),
    /// The store is overloaded (`store_busy`); nothing was done, retry after the given seconds.
    #[oai(status = 503, content_type = "application/problem+json")]
    ServiceUnavailable(Json<Problem>, #[oai(header = "Retry-After")] u32),
}

/// Turns poem-openapi's request-parsing failures into a 400 problem.
fn bad_request(err: poem::Error) -> ApiError {
    ApiError::BadRequest(Json(Problem::new(400, parse_code(&err), err.to_string())))
}

fn parse_code(err: &poem::Error) -> &'static str {
    if err.is::<poem_openapi::error::ParseRequestPayloadError>() {
        "malformed_body"
    } else if err.is::<poem_openapi::error::ParseParamError>() || err.is::<poem_openapi::error::ParsePathError>() {
        "malformed_parameter"
    } else if err.is::<poem_openapi::error::ContentTypeError>() {
        "unsupported_media_type"
    } else {
        "bad_request"
    }
}

impl ApiError {
    /// A problem for `status` with `code`.
    pub fn new(status: u16, code: &str, detail: impl Into<String>) -> ApiError {
        ApiError::from_problem(Problem::new(status, code, detail), None)
    }

    /// 401 `unauthorized`.
    pub fn unauthorized(detail: impl Into<String>) -> ApiError {
        ApiError::new(401, "unauthorized", detail)
    }

    /// 403 `forbidden`.
    pub fn forbidden(detail: impl Into<String>) -> ApiError {
        ApiError::new(403, "forbidden", detail)
    }

    /// 404 `not_found`.
    pub fn not_found(what: &str) -> ApiError {
        ApiError::new(404, "not_found", format!("{what} not found"))
    }

    /// 422 `invalid_input` for one field.
    pub fn invalid(field: &str, message: impl Into<String>) -> ApiError {
        let message = message.into();
        let mut p = Problem::new(422, "invalid_input", format!("{field}: {message}"));
        p.errors = Some(vec![FieldProblem { field: field.to_owned(), message }]);
        ApiError::from_problem(p, None)
    }

    /// An opaque 500; the cause is logged with an id the client can quote.
    pub fn internal(cause: &dyn std::fmt::Display) -> ApiError {
        let incident = uuid::Uuid::from_u128(rand::random::<u128>());
        tracing::error!(%incident, error = %cause, "internal error");
        ApiError::new(500, "internal", format!("internal error (incident {incident})"))
    }

    /// Wraps a problem in the variant for its status.
    pub fn from_problem(p: Problem, retry_after: Option<u32>) -> ApiError {
        match p.status {
            400 => ApiError::BadRequest(Json(p)),
            401 => ApiError::Unauthorized(Json(p)),
            403 => ApiError::Forbidden(Json(p)),
            404 => ApiError::NotFound(Json(p)),
            409 => ApiError::Conflict(Json(p)),
            422 => ApiError::Unprocessable(Json(p)),
            429 => ApiError::TooManyRequests(Json(p), retry_after.unwrap_or(60)),
            503 => ApiError::ServiceUnavailable(Json(p), retry_after.unwrap_or(1)),
            _ => ApiError::Internal(Json(Problem { status: 500, ..p })),
        }
    }
}

impl From<krug::Error> for ApiError {
    /// The one path from an SDK error to a problem: its code and status from the SDK's error
    /// table, its Retry-After from [`krug::Error::retry_after`]. An `internal` failure is opaque.
    fn from(err: krug::Error) -> ApiError {
        let status = err.http_status();
        if status == 500 {
            return ApiError::internal(&err);
        }
        let mut p = Problem::new(status, err.code(), err.to_string());
        if let krug::Error::Config(problems) = &err {
            p.errors = Some(
                problems.0.iter().map(|c| FieldProblem { field: c.path.clone(), message: c.message.clone() }).collect(),
            );
        }
        if let krug::Error::Chain(krug::chain::ChainError::Invalid(problems)) = &err {
            p.errors = Some(
                problems.iter().map(|c| FieldProblem { field: c.field.clone(), message: c.message.clone() }).collect(),
            );
        }
        ApiError::from_problem(p, err.retry_after().map(whole_seconds))
    }
}

/// A wait as a Retry-After value: whole seconds, rounded up, at least 1.
fn whole_seconds(wait: std::time::Duration) -> u32 {
    let secs = wait.as_secs().saturating_add(u64::from(wait.subsec_nanos() > 0));
    u32::try_from(secs).unwrap_or(u32::MAX).max(1)
}

/// Rewrites any error that did not come from a handler's `ApiError` (poem's parse, auth and
/// routing failures) into a problem response; passes problem responses through.
pub async fn catch_all(err: poem::Error) -> Response {
    let status = err.status();
    // A handler's `ApiError` (and a parse failure already shaped by `bad_request`) arrives as an
    // error made from its response: keep that problem with its stable code and its headers
    // (Retry-After). Rewriting it from the status alone would lose all three.
    if err.is_from_response() {
        let message = err.to_string();
        let resp = err.into_response();
        if resp.content_type() == Some(PROBLEM_JSON) {
            return resp;
        }
        return rewrite(status, "bad_request", &message);
    }
    let bad_request = if status == StatusCode::BAD_REQUEST { parse_code(&err) } else { "bad_request" };
    rewrite(status, bad_request, &err.to_string())
}

/// The problem for a bare error with `status`; `bad_request` is the code of a 400.
fn rewrite(status: StatusCode, bad_request: &str, message: &str) -> Response {
    let code = match status {
        StatusCode::BAD_REQUEST => bad_request,
        StatusCode::UNAUTHORIZED => "unauthorized",
        StatusCode::FORBIDDEN => "forbidden",
        StatusCode::NOT_FOUND => "not_found",
        StatusCode::METHOD_NOT_ALLOWED => "method_not_allowed",
        StatusCode::UNSUPPORTED_MEDIA_TYPE => "unsupported_media_type",
        StatusCode::PAYLOAD_TOO_LARGE => "payload_too_large",
        s if s.is_client_error() => "bad_request",
        _ => "internal",
    };
    let problem = if status.is_server_error() {
        let incident = uuid::Uuid::from_u128(rand::random::<u128>());
        tracing::error!(%incident, error = %message, "internal error");
        Problem::new(500, "internal", format!("internal error (incident {incident})"))
    } else {
        Problem::new(status.as_u16(), code, message)
    };
    problem_response(&problem)
}

/// A problem as a plain poem response.
pub fn problem_response(problem: &Problem) -> Response {
    let body = serde_json::to_vec(problem).unwrap_or_default();
    Response::builder()
        .status(StatusCode::from_u16(problem.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR))
        .content_type(PROBLEM_JSON)
        .body(body)
        .into_response()
}

#[cfg(test)]
mod tests {
    use krug::StoreError;

    use super::*;

    #[tokio::test]
    async fn a_busy_store_answers_503_problem_with_retry_after_in_whole_seconds() {
        let busy = krug::Error::Store(StoreError::Busy { retry_after: std::time::Duration::from_millis(1500) });
        let resp = ApiError::from(busy).into_response();
        assert_eq!(resp.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(resp.content_type(), Some(PROBLEM_JSON));
        assert_eq!(resp.headers().get("Retry-After").and_then(|v| v.to_str().ok()), Some("2"));
        let body: serde_json::Value = serde_json::from_str(&resp.into_body().into_string().await.unwrap()).unwrap();
        assert_eq!((body["status"].as_u64(), body["code"].as_str()), (Some(503), Some("store_busy")), "{body}");
    }

    #[test]
    fn a_retry_after_is_whole_seconds_rounded_up_and_never_zero() {
        use std::time::Duration;
        assert_eq!(whole_seconds(Duration::ZERO), 1);
        assert_eq!(whole_seconds(Duration::from_millis(1)), 1);
        assert_eq!(whole_seconds(Duration::from_secs(40)), 40);
        assert_eq!(whole_seconds(Duration::from_millis(40_001)), 41);
    }

    #[test]
    fn an_internal_failure_stays_an_opaque_500() {
        let ApiError::Internal(Json(p)) = ApiError::from(krug::Error::Store(StoreError::NotFound)) else {
            panic!("not a 500");
        };
        assert_eq!((p.status, p.code.as_str()), (500, "internal"));
        assert!(!p.detail.contains("not found"), "{}", p.detail);
    }
}
