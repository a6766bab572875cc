//! Names each operation by its root field, for the request's log line and the
//! per-operation metrics. The names come from a closed set: the schema's root fields,
//! `multiple` for an operation with several, `invalid` for one that names a field the
//! schema does not have, and `none` when the document did not parse. Client-chosen names
//! (operation names, unknown fields) never become label values.

use std::{
    collections::{BTreeSet, HashSet},
    sync::{Arc, Mutex},
    time::Instant,
};

use async_graphql::{
    Response, ServerResult, Variables,
    extensions::{Extension, ExtensionContext, ExtensionFactory, NextParseQuery, NextRequest},
    parser::types::ExecutableDocument,
};

/// Extension factory: add it to the schema once, with the names of its root fields.
pub struct Observe {
    known: Arc<HashSet<String>>,
}

impl Observe {
    /// `known`: every root field of the schema's query and mutation types.
    pub fn new(known: HashSet<String>) -> Self {
        Self {
            known: Arc::new(known),
        }
    }
}

impl ExtensionFactory for Observe {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(ObserveExtension {
            known: self.known.clone(),
            roots: Mutex::default(),
        })
    }
}

struct ObserveExtension {
    known: Arc<HashSet<String>>,
    roots: Mutex<BTreeSet<String>>,
}

impl ObserveExtension {
    fn label(&self) -> String {
        let roots = self.roots.lock().map(|r| r.clone()).unwrap_or_default();
        label(&roots, &self.known)
    }
}

/// The label of an operation that selects `roots`.
fn label(roots: &BTreeSet<String>, known: &HashSet<String>) -> String {
    if roots.iter().any(|r| !known.contains(r)) {
        return "invalid".to_owned();
    }
    let mut names = roots.iter();
    match (names.next(), names.next()) {
        (None, _) => "none".to_owned(),
        (Some(only), None) => only.clone(),
        (Some(_), Some(_)) => "multiple".to_owned(),
    }
}

#[async_graphql::async_trait::async_trait]
impl Extension for ObserveExtension {
    async fn request(&self, ctx: &ExtensionContext<'_>, next: NextRequest<'_>) -> Response {
        let started = Instant::now();
        let response = next.run(ctx).await;
        let label = self.label();
        tracing::Span::current().record("operation", label.as_str());
        crate::metrics::graphql_operation(
            &label,
            response.errors.is_empty(),
            started.elapsed().as_secs_f64(),
        );
        response
    }

    // Named from the parsed document, not per resolved field: no hook on every field.
    async fn parse_query(
        &self,
        ctx: &ExtensionContext<'_>,
        query: &str,
        variables: &Variables,
        next: NextParseQuery<'_>,
    ) -> ServerResult<ExecutableDocument> {
        let doc = next.run(ctx, query, variables).await?;
        if let Ok(mut roots) = self.roots.lock() {
            *roots = super::limits::root_field_names(&doc);
        }
        Ok(doc)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_come_from_a_closed_set() {
        let known: HashSet<String> = ["me", "login"].map(str::to_owned).into();
        let l = |names: &[&str]| label(&names.iter().map(|n| (*n).to_owned()).collect(), &known);
        assert_eq!(l(&[]), "none");
        assert_eq!(l(&["me"]), "me");
        assert_eq!(l(&["me", "login"]), "multiple");
        assert_eq!(l(&["x1234"]), "invalid");
        assert_eq!(l(&["me", "x1234"]), "invalid");
    }
}
