//! The testkit's own tests: one integration binary, one module per part of the kit.
// A failed expectation here is the test failing, helpers included.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

mod clock;
mod db;
mod ids;
