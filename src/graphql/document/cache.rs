//! Documents parsed already. Clients send the same few documents over and over (an app's
//! `me`, `refresh`…), so each is scanned and parsed once, and later requests get a copy of
//! the parse; an operation of it sent without variables is validated once too.
//!
//! Only what passed the scan, the parse and its limits is remembered, so a refused
//! document is refused again, the same way, every time. The rest of the checks (the
//! schema's limits, validation with variables) run on every request as before.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
};

use async_graphql::{ValidationResult, parser::types::ExecutableDocument};

use super::{DocumentLimits, Refused};

/// Documents remembered at most; past it, the cache starts over.
pub const CAPACITY: usize = 512;

/// Longest document remembered (bytes). Longer ones are parsed every time: they are rare,
/// and the cache stays a few MiB at most.
pub const MAX_LENGTH: usize = 4096;

/// A document that passed the scan, the parse and the document limits.
#[derive(Debug)]
pub struct Parsed {
    pub doc: ExecutableDocument,
    /// How its operations validated when sent without variables, by operation name (a
    /// document holds a few operations at most).
    validated: Mutex<Vec<(Option<String>, ValidationResult)>>,
}

impl Parsed {
    fn new(doc: ExecutableDocument) -> Self {
        Self {
            doc,
            validated: Mutex::default(),
        }
    }

    /// The result of validating `operation` without variables, if it validated before.
    pub fn validated(&self, operation: Option<&str>) -> Option<ValidationResult> {
        let validated = self.validated.lock().ok()?;
        validated
            .iter()
            .find(|(name, _)| name.as_deref() == operation)
            .map(|(_, result)| *result)
    }

    /// Remembers that `operation`, without variables, validated as `result`.
    pub fn remember_valid(&self, operation: Option<&str>, result: ValidationResult) {
        if let Ok(mut validated) = self.validated.lock()
            && !validated
                .iter()
                .any(|(name, _)| name.as_deref() == operation)
        {
            validated.push((operation.map(str::to_owned), result));
        }
    }
}

/// The documents parsed lately, by their text.
#[derive(Debug, Default)]
pub struct DocumentCache {
    entries: Mutex<HashMap<String, Arc<Parsed>>>,
}

impl DocumentCache {
    /// The parse of `query`: remembered, or parsed now (and remembered if short enough).
    ///
    /// # Errors
    /// [`Refused`] as [`super::parse`] refuses.
    pub fn parse(&self, query: &str, limits: &DocumentLimits) -> Result<Arc<Parsed>, Refused> {
        if let Some(parsed) = self.entries.lock().ok().and_then(|e| e.get(query).cloned()) {
            return Ok(parsed);
        }
        let parsed = Arc::new(Parsed::new(super::parse(query, limits)?));
        if query.len() <= MAX_LENGTH
            && let Ok(mut entries) = self.entries.lock()
        {
            if entries.len() >= CAPACITY {
                entries.clear();
            }
            entries.insert(query.to_owned(), parsed.clone());
        }
        Ok(parsed)
    }

    /// Documents remembered now.
    pub fn len(&self) -> usize {
        self.entries.lock().map(|e| e.len()).unwrap_or(0)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMITS: DocumentLimits = DocumentLimits {
        max_nesting: 64,
        max_tokens: 10_000,
        max_fields: 1_000,
    };

    #[test]
    fn a_document_is_parsed_once() {
        let cache = DocumentCache::default();
        let a = cache.parse("query Me { me { id } }", &LIMITS).unwrap();
        let b = cache.parse("query Me { me { id } }", &LIMITS).unwrap();
        assert!(Arc::ptr_eq(&a, &b));
        assert_eq!(cache.len(), 1);
    }

    #[test]
    fn refused_documents_are_not_remembered() {
        let cache = DocumentCache::default();
        for _ in 0..2 {
            assert!(matches!(
                cache.parse("{ me { id }", &LIMITS),
                Err(Refused::Syntax { .. })
            ));
        }
        assert!(cache.is_empty());
    }

    #[test]
    fn long_documents_are_parsed_every_time() {
        let cache = DocumentCache::default();
        let doc = "{ me { id } }";
        let at_bound = format!("{doc}{}", " ".repeat(MAX_LENGTH - doc.len()));
        assert_eq!(at_bound.len(), MAX_LENGTH);
        cache.parse(&at_bound, &LIMITS).unwrap();
        assert_eq!(cache.len(), 1);
        let over = format!("{at_bound} ");
        let a = cache.parse(&over, &LIMITS).unwrap();
        let b = cache.parse(&over, &LIMITS).unwrap();
        assert!(!Arc::ptr_eq(&a, &b));
        assert_eq!(cache.len(), 1);
    }

    #[test]
    fn a_full_cache_starts_over() {
        let cache = DocumentCache::default();
        for i in 0..CAPACITY {
            cache
                .parse(&format!("{{ a{i}: me {{ id }} }}"), &LIMITS)
                .unwrap();
        }
        assert_eq!(cache.len(), CAPACITY);
        cache.parse("{ me { id } }", &LIMITS).unwrap();
        assert_eq!(cache.len(), 1);
    }

    #[test]
    fn validation_is_remembered_per_operation() {
        let cache = DocumentCache::default();
        let parsed = cache
            .parse("query A { me { id } } query B { me { id } }", &LIMITS)
            .unwrap();
        assert!(parsed.validated(Some("A")).is_none());
        let result = ValidationResult {
            cache_control: Default::default(),
            complexity: 2,
            depth: 2,
        };
        parsed.remember_valid(Some("A"), result);
        assert_eq!(parsed.validated(Some("A")).map(|r| r.complexity), Some(2));
        assert!(parsed.validated(Some("B")).is_none());
        assert!(parsed.validated(None).is_none());
    }
}
