//! The checked-in spec is the one the code exports.

#[test]
fn the_checked_in_openapi_spec_is_current() {
    let exported = krug_appliance::http::spec_yaml();
    let path = crate::common::repo_path("openapi/krug.yaml");
    let checked_in = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        checked_in == exported,
        "openapi/krug.yaml is stale; regenerate it with:\n    cargo run -p krug-appliance -- openapi > openapi/krug.yaml"
    );
}
