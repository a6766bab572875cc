//! Names each operation by its root fields (a small, bounded set, unlike client-chosen
//! operation names), for the request's log line and the per-operation metrics.

use std::{
    collections::BTreeSet,
    sync::{Arc, Mutex},
    time::Instant,
};

use async_graphql::{
    Response, ServerResult, Variables,
    extensions::{Extension, ExtensionContext, ExtensionFactory, NextParseQuery, NextRequest},
    parser::types::ExecutableDocument,
};

/// Extension factory: add it to the schema once.
pub struct Observe;

impl ExtensionFactory for Observe {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(ObserveExtension::default())
    }
}

#[derive(Default)]
struct ObserveExtension {
    roots: Mutex<BTreeSet<String>>,
}

/// At most this many root field names make a label; more are `multiple`.
const MAX_NAMED_ROOTS: usize = 3;

impl ObserveExtension {
    fn label(&self) -> String {
        let roots = self.roots.lock().map(|r| r.clone()).unwrap_or_default();
        match roots.len() {
            0 => "none".to_owned(),
            n if n > MAX_NAMED_ROOTS => "multiple".to_owned(),
            _ => roots.into_iter().collect::<Vec<_>>().join(","),
        }
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
