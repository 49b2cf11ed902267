use krug::types::Clock;
use krug_testkit::ManualClock;
use time::Duration;
use time::macros::datetime;

#[test]
fn manual_clock_stands_still_until_moved_and_advances_exactly() {
    let clock = ManualClock::at("2026-03-01T12:00:00Z");
    assert_eq!(clock.now(), datetime!(2026-03-01 12:00:00 UTC));
    assert_eq!(clock.now(), clock.now(), "no time passes by itself");

    clock.advance(Duration::days(30) + Duration::nanoseconds(1));
    assert_eq!(clock.now(), datetime!(2026-03-31 12:00:00.000000001 UTC));

    clock.set(datetime!(2025-12-31 23:59:59 UTC));
    assert_eq!(clock.now(), datetime!(2025-12-31 23:59:59 UTC), "set may move backwards");
}

#[test]
fn manual_clock_clones_share_one_instant_and_read_in_utc() {
    let clock = ManualClock::new(datetime!(2026-03-01 15:00:00 +3));
    let sdk_side: Box<dyn Clock> = Box::new(clock.clone());
    clock.advance(Duration::hours(1));
    assert_eq!(sdk_side.now(), datetime!(2026-03-01 13:00:00 UTC));
    assert!(sdk_side.now().offset().is_utc());
}

#[test]
#[should_panic(expected = "not an RFC 3339 instant")]
fn manual_clock_at_refuses_a_malformed_literal() {
    let _ = ManualClock::at("2026-03-01 12:00");
}
