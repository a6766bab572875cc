//! Any text as a GraphQL document: the guarded parse answers it without crashing, and the
//! scan never finds a document the parser accepts shallower than it is.
#![no_main]

use authql::graphql::document::{self, DocumentLimits};
use libfuzzer_sys::fuzz_target;

const LIMITS: DocumentLimits = DocumentLimits {
    max_nesting: 64,
    max_tokens: 2_000,
    max_fields: 500,
};

const UNLIMITED: DocumentLimits = DocumentLimits {
    max_nesting: usize::MAX,
    max_tokens: usize::MAX,
    max_fields: usize::MAX,
};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let _ = document::parse(text, &LIMITS);
    // The parser alone, on a stack far larger than any input here can need.
    let parsed = stacker::grow(512 << 20, || {
        async_graphql::parser::parse_query(text)
            .ok()
            .map(|doc| document::depth(&doc))
    });
    if let Some(real) = parsed {
        match document::scan(text, &UNLIMITED) {
            Ok(scanned) => assert!(scanned.depth >= real, "scanned {} < parsed {real}", scanned.depth),
            // Refused on purpose (see `document::string_end`).
            Err(document::Refused::Syntax {
                what: document::UNTERMINATED_BLOCK_STRING,
                ..
            }) => {}
            Err(refused) => panic!("the parser accepts what the scan refused: {refused}"),
        }
    }
});
