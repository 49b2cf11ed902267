//! testkit

pub mod tenants;
