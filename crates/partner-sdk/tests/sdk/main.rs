//! partner-sdk against the emulator (and wiremock where a response must be hand-made), over
//! real HTTP on loopback.
// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod auth_refresh;
mod generic;
mod podero_users;
mod resilience;
mod support;
