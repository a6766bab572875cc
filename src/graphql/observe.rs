//! Names each operation by its root field, for the request's log line and the
//! per-operation metrics. The names come from a closed set: the schema's root fields,
//! `multiple` for an operation with several, `invalid` for one that names a field the
//! schema does not have, and `none` when the document did not parse. Client-chosen names
//! (operation names, unknown fields) never become label values.

use std::{
    collections::{BTreeSet, HashMap, HashSet},
    sync::{Arc, Mutex},
    time::Instant,
};

use async_graphql::{
    Response, ServerResult, Variables,
    extensions::{Extension, ExtensionContext, ExtensionFactory, NextParseQuery, NextRequest},
    parser::types::ExecutableDocument,
};
use metrics::SharedString;

/// The labels an operation can have: the schema's root fields, shared by every request.
type Known = HashMap<String, SharedString>;

/// Extension factory: add it to the schema once, with the names of its root fields.
pub struct Observe {
    known: Arc<Known>,
}

impl Observe {
    /// `known`: every root field of the schema's query and mutation types.
    pub fn new(known: HashSet<String>) -> Self {
        let known = known
            .into_iter()
            .map(|name| {
                let label = SharedString::from(Arc::<str>::from(name.as_str()));
                (name, label)
            })
            .collect();
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
    known: Arc<Known>,
    roots: Mutex<BTreeSet<String>>,
}

impl ObserveExtension {
    fn label(&self) -> SharedString {
        match self.roots.lock() {
            Ok(roots) => label(&roots, &self.known),
            Err(_) => label(&BTreeSet::new(), &self.known),
        }
    }
}

/// The label of an operation that selects `roots`.
fn label(roots: &BTreeSet<String>, known: &Known) -> SharedString {
    if roots.iter().any(|r| !known.contains_key(r)) {
        return SharedString::const_str("invalid");
    }
    let mut names = roots.iter();
    match (names.next(), names.next()) {
        (None, _) => SharedString::const_str("none"),
        (Some(only), None) => known
            .get(only)
            .cloned()
            .unwrap_or_else(|| SharedString::const_str("invalid")),
        (Some(_), Some(_)) => SharedString::const_str("multiple"),
    }
}

#[async_graphql::async_trait::async_trait]
impl Extension for ObserveExtension {
    async fn request(&self, ctx: &ExtensionContext<'_>, next: NextRequest<'_>) -> Response {
        let started = Instant::now();
        let response = next.run(ctx).await;
        let label = self.label();
        tracing::Span::current().record("operation", &*label);
        crate::metrics::graphql_operation(
            label,
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
        let known = Observe::new(["me", "login"].map(str::to_owned).into()).known;
        let l = |names: &[&str]| {
            String::from(&*label(
                &names.iter().map(|n| (*n).to_owned()).collect(),
                &known,
            ))
        };
        assert_eq!(l(&[]), "none");
        assert_eq!(l(&["me"]), "me");
        assert_eq!(l(&["me", "login"]), "multiple");
        assert_eq!(l(&["x1234"]), "invalid");
        assert_eq!(l(&["me", "x1234"]), "invalid");
    }
}
