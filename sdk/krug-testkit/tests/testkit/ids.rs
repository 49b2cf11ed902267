use krug::types::{IdGen, MemberId};
use krug_testkit::SequentialIds;
use time::macros::datetime;
use uuid::Version;

#[test]
fn sequential_ids_strictly_increase_and_are_uuid_v7() {
    let ids = SequentialIds::new();
    let minted: Vec<_> = (0..1_000).map(|_| ids.next_uuid()).collect();
    assert!(minted.windows(2).all(|w| w[0] < w[1]), "ids must strictly increase");
    assert!(minted.iter().all(|id| id.get_version() == Some(Version::SortRand)));
    let (secs, _) = minted[0].get_timestamp().unwrap().to_unix();
    assert_eq!(secs, 1_767_225_600, "2026-01-01T00:00:00Z");
}

#[test]
fn sequential_ids_are_the_same_on_every_run_and_shared_by_clones() {
    let a = SequentialIds::starting_at(datetime!(2026-05-01 00:00 UTC));
    let b = SequentialIds::starting_at(datetime!(2026-05-01 00:00 UTC));
    assert_eq!(MemberId::generate(&a), MemberId::generate(&b));

    let clone = a.clone();
    assert!(a.next_uuid() < clone.next_uuid(), "clones continue one sequence");
}
