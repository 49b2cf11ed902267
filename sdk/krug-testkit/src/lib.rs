//! # krug-testkit — test support for Krug (dev-dependency only)
//!
//! Time and ids are injected in Krug, so tests drive them: [`ManualClock`] moves only when told,
//! [`SequentialIds`] mints the same ids on every run. [`TestDb`] gives each test a database of its
//! own on either backend, and [`backend_test!`] runs one test body against both.
//!
//! This crate panics on purpose where a test cannot go on (a database it was told to require is
//! missing, a malformed timestamp literal): a test support crate that returned errors would only
//! move the `unwrap` into every test.
#![deny(missing_docs)]

mod clock;
mod db;
mod ids;
mod macros;
pub mod tenants;

pub use clock::ManualClock;
pub use db::{Backend, TestDb};
pub use ids::SequentialIds;

/// What [`backend_test!`] expands to needs; not part of the API.
#[doc(hidden)]
pub mod __private {
    pub use tokio;

    /// Runs a test body on a two-worker multi-thread runtime, so concurrency tests really race.
    #[allow(clippy::expect_used)] // a test that cannot get a runtime cannot run at all
    pub fn run<F: std::future::Future<Output = ()>>(body: F) {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("krug-testkit: could not build the tokio runtime for a backend_test")
            .block_on(body);
    }
}
