//! The emulator's reading of a token request: `partner_emulator::parse_token_request` (both
//! Podero body backends, POA's form, both vendors' Basic decoding, the echoed credential).
//!
//! Input: `content type` SEP `authorization` SEP `body`.
//!
//! Properties: no panic; the same request reads the same twice.

use partner_emulator::parse_token_request;

use super::fields;

pub(crate) fn run(data: &[u8]) {
    let [content_type, authorization, body] = fields::<3>(data);
    let parsed = parse_token_request(content_type, authorization, body);
    assert_eq!(
        parse_token_request(content_type, authorization, body),
        parsed
    );
}
