//! The emulator's contract, over real HTTP on loopback with reqwest: never through the SDK,
//! which this emulator exists to check independently. One test binary; a module per area,
//! each a set of tables checked through one helper (see `support`).
// Test code, helpers included: a failed unwrap is a failed test, with the value in its message.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

mod body_faults;
mod controls;
mod fault_controls;
mod faults;
mod lifecycle;
mod style_controls;
mod tokens_poa;
mod tokens_podero;
mod users;
mod wire_faults;
