//! Any bytes as the body of `POST /graphql`: the JSON request check, then the scan and the
//! guarded parse of each operation, answer without crashing.
#![no_main]

use authql::graphql::document::{self, DocumentLimits};
use libfuzzer_sys::fuzz_target;

const LIMITS: DocumentLimits = DocumentLimits {
    max_nesting: 64,
    max_tokens: 2_000,
    max_fields: 500,
};

fuzz_target!(|data: &[u8]| {
    if let Ok(batch) = authql::http::body::parse_body(data) {
        for request in batch.iter() {
            let _ = document::parse(&request.query, &LIMITS);
        }
    }
});
