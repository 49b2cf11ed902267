//! Rebuilds the crate when a migration is added or changed: `sqlx::migrate!` embeds
//! `migrations/{sqlite,postgres}` at compile time, and cargo does not watch that directory on its
//! own, so a new migration would otherwise be silently left out of the binary.

fn main() {
    println!("cargo:rerun-if-changed=migrations");
}
