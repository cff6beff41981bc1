//! The `partner` binary against a real django-oauth-toolkit (DOT 3.4.1, `interop/dot`), run as
//! a black box: environment variables in; exit codes, stdout JSON and stderr out. Every run is
//! followed by a scan of its output for the client secret in every encoding and for every
//! access token DOT holds or held (`cli.rs`).
//!
//! Servers are real Django processes (`support.rs`), one per variant for the whole binary:
//! backend (DOT's `JSONOAuthLibCore`, which parses Podero's documented JSON token body, or its
//! default `OAuthLibCore`, which parses form bodies only) × resource style (DRF, answering a
//! stale token with 401, or DOT's `ProtectedResourceView`, answering it with a bare 403) ×
//! token lifetime. The first run builds the Python virtualenv (`interop/dot/venv.rs`); without
//! `python3` these tests fail and say what to install.
//!
//! `negotiation.rs` holds the tests of `PODERO_TOKEN_BODY` (json, form, auto) against both
//! backends, the vendor-aware hints, and the quiet default stderr.
// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod cli;
mod support;

mod credentials;
mod harness;
mod lifecycle;
mod token;
mod users;

mod negotiation;

use support::{Backend, Style, Variant};

/// Podero's documented JSON body, DRF resources.
pub(crate) const JSON_DRF: Variant = Variant::new(Backend::Json, Style::Drf);
/// Podero's documented JSON body, DOT's own protected views.
pub(crate) const JSON_PROTECTED: Variant = Variant::new(Backend::Json, Style::Protected);
/// DOT's default backend (form bodies only), DRF resources.
pub(crate) const FORM_DRF: Variant = Variant::new(Backend::Form, Style::Drf);
/// DOT's default backend, DOT's own protected views.
pub(crate) const FORM_PROTECTED: Variant = Variant::new(Backend::Form, Style::Protected);
/// Tokens that live five seconds.
pub(crate) const SHORT_SECONDS: u32 = 5;
