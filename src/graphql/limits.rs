//! Limits async-graphql has no setting for: every document is scanned and parsed through
//! [`super::document`] (bounded nesting and tokens, a stack-safe parse), may use only so
//! many aliases, and an operation may have only so many root fields (each root mutation
//! field may cost a password hash). With introspection off, asking for the schema is an
//! error that says so. Depth, complexity and directives use the schema's own limits.
//!
//! Parses come from the [`DocumentCache`], and an operation sent without variables is
//! validated once per document: the same input gives the same result.

use std::{
    collections::HashSet,
    sync::{Arc, Mutex},
};

use async_graphql::{
    Request, ServerError, ServerResult, ValidationResult, Variables,
    extensions::{
        Extension, ExtensionContext, ExtensionFactory, NextParseQuery, NextPrepareRequest,
        NextValidation,
    },
    parser::types::{ExecutableDocument, OperationType, Selection, SelectionSet},
};

use super::document::cache::{DocumentCache, Parsed};
use crate::{config::GraphqlLimits, error::code};

/// Marks a request whose document the HTTP layer has parsed already (through
/// [`document::parse`], to see whether a GET would run a mutation).
#[derive(Debug, Clone, Copy)]
pub struct PreParsed;

/// Marks a request that came over WebSocket (`/graphql/ws`), the one transport that runs
/// subscriptions.
#[derive(Debug, Clone, Copy)]
pub struct OverWebSocket;

fn is_pre_parsed(request: &Request) -> bool {
    request
        .data
        .get(&std::any::TypeId::of::<PreParsed>())
        .is_some()
}

/// Extension factory: add it to the schema once.
pub struct Limits {
    limits: GraphqlLimits,
    documents: Arc<DocumentCache>,
}

impl Limits {
    pub fn new(limits: GraphqlLimits) -> Self {
        Self {
            limits,
            documents: Arc::default(),
        }
    }
}

impl ExtensionFactory for Limits {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(LimitsExtension {
            limits: self.limits.clone(),
            documents: self.documents.clone(),
            reusable: Mutex::default(),
        })
    }
}

/// One per request.
struct LimitsExtension {
    limits: GraphqlLimits,
    documents: Arc<DocumentCache>,
    /// The cached parse and the operation of a request sent without variables, whose
    /// validation is then the one remembered for them.
    reusable: Mutex<Option<(Arc<Parsed>, Option<String>)>>,
}

fn error(code: &'static str, message: String) -> ServerError {
    let mut err = ServerError::new(message, None);
    err.extensions
        .get_or_insert_with(Default::default)
        .set("code", code);
    err
}

/// Aliases used anywhere in the document.
fn aliases(doc: &ExecutableDocument) -> usize {
    fn count(set: &SelectionSet) -> usize {
        set.items
            .iter()
            .map(|item| match &item.node {
                Selection::Field(f) => {
                    usize::from(f.node.alias.is_some()) + count(&f.node.selection_set.node)
                }
                Selection::InlineFragment(i) => count(&i.node.selection_set.node),
                Selection::FragmentSpread(_) => 0,
            })
            .sum()
    }
    let in_operations: usize = doc
        .operations
        .iter()
        .map(|(_, op)| count(&op.node.selection_set.node))
        .sum();
    let in_fragments: usize = doc
        .fragments
        .values()
        .map(|f| count(&f.node.selection_set.node))
        .sum();
    in_operations + in_fragments
}

/// The names of the root fields a document's operations select, fragments included.
pub fn root_field_names(doc: &ExecutableDocument) -> std::collections::BTreeSet<String> {
    fn collect<'a>(
        doc: &'a ExecutableDocument,
        set: &'a SelectionSet,
        seen: &mut HashSet<&'a str>,
        names: &mut std::collections::BTreeSet<String>,
    ) {
        for item in &set.items {
            match &item.node {
                Selection::Field(f) => {
                    names.insert(f.node.name.node.to_string());
                }
                Selection::InlineFragment(i) => {
                    collect(doc, &i.node.selection_set.node, seen, names)
                }
                Selection::FragmentSpread(s) => {
                    let name = s.node.fragment_name.node.as_str();
                    if let Some(f) = doc.fragments.get(name)
                        && seen.insert(name)
                    {
                        collect(doc, &f.node.selection_set.node, seen, names);
                    }
                }
            }
        }
    }
    let mut names = std::collections::BTreeSet::new();
    for (_, op) in doc.operations.iter() {
        collect(
            doc,
            &op.node.selection_set.node,
            &mut HashSet::new(),
            &mut names,
        );
    }
    names
}

/// The most root fields any operation of the document selects, fragments included.
fn root_fields(doc: &ExecutableDocument) -> usize {
    fn count<'a>(
        doc: &'a ExecutableDocument,
        set: &'a SelectionSet,
        seen: &mut HashSet<&'a str>,
    ) -> usize {
        set.items
            .iter()
            .map(|item| match &item.node {
                Selection::Field(_) => 1,
                Selection::InlineFragment(i) => count(doc, &i.node.selection_set.node, seen),
                Selection::FragmentSpread(s) => {
                    let name = s.node.fragment_name.node.as_str();
                    match doc.fragments.get(name) {
                        Some(f) if seen.insert(name) => {
                            count(doc, &f.node.selection_set.node, seen)
                        }
                        _ => 0,
                    }
                }
            })
            .sum()
    }
    doc.operations
        .iter()
        .map(|(_, op)| count(doc, &op.node.selection_set.node, &mut HashSet::new()))
        .max()
        .unwrap_or(0)
}

#[async_graphql::async_trait::async_trait]
impl Extension for LimitsExtension {
    async fn prepare_request(
        &self,
        ctx: &ExtensionContext<'_>,
        request: Request,
        next: NextPrepareRequest<'_>,
    ) -> ServerResult<Request> {
        let mut request = request;
        if !is_pre_parsed(&request) {
            let parsed = self
                .documents
                .parse(&request.query, &(&self.limits).into())
                .map_err(|refused| error(refused.code(), refused.to_string()))?;
            request.set_parsed_query(parsed.doc.clone());
            if request.variables.is_empty()
                && let Ok(mut reusable) = self.reusable.lock()
            {
                *reusable = Some((parsed, request.operation_name.clone()));
            }
        }
        let operation = request.operation_name.clone();
        let ty = super::document::operation_type(request.parsed_query()?, operation.as_deref());
        let over_websocket = request
            .data
            .get(&std::any::TypeId::of::<OverWebSocket>())
            .is_some();
        if ty == Some(OperationType::Subscription) && !over_websocket {
            return Err(error(
                code::GRAPHQL_VALIDATION_FAILED,
                "Subscriptions run over WebSocket: graphql-transport-ws at /graphql/ws".into(),
            ));
        }
        next.run(ctx, request).await
    }

    async fn validation(
        &self,
        ctx: &ExtensionContext<'_>,
        next: NextValidation<'_>,
    ) -> Result<ValidationResult, Vec<ServerError>> {
        let reusable = self.reusable.lock().ok().and_then(|mut r| r.take());
        let Some((parsed, operation)) = reusable else {
            return next.run(ctx).await;
        };
        if let Some(result) = parsed.validated(operation.as_deref()) {
            return Ok(result);
        }
        let result = next.run(ctx).await?;
        parsed.remember_valid(operation.as_deref(), result);
        Ok(result)
    }

    async fn parse_query(
        &self,
        ctx: &ExtensionContext<'_>,
        query: &str,
        variables: &Variables,
        next: NextParseQuery<'_>,
    ) -> ServerResult<ExecutableDocument> {
        let doc = next.run(ctx, query, variables).await?;
        if !self.limits.introspection
            && root_field_names(&doc)
                .iter()
                .any(|name| name == "__schema" || name == "__type")
        {
            return Err(error(
                code::GRAPHQL_VALIDATION_FAILED,
                "Introspection is turned off on this server (GRAPHQL_INTROSPECTION)".to_owned(),
            ));
        }
        let used = aliases(&doc);
        if used > self.limits.max_aliases {
            return Err(error(
                code::GRAPHQL_VALIDATION_FAILED,
                format!(
                    "The document uses {used} aliases; at most {} are allowed",
                    self.limits.max_aliases
                ),
            ));
        }
        let roots = root_fields(&doc);
        if roots > self.limits.max_root_fields {
            return Err(error(
                code::GRAPHQL_VALIDATION_FAILED,
                format!(
                    "An operation selects {roots} root fields; at most {} are allowed",
                    self.limits.max_root_fields
                ),
            ));
        }
        Ok(doc)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(q: &str) -> ExecutableDocument {
        async_graphql::parser::parse_query(q).unwrap()
    }

    #[test]
    fn aliases_count_in_operations_and_fragments() {
        let d =
            doc("query { a: me { id } b: me { x: id } ...F } fragment F on Query { c: me { id } }");
        assert_eq!(aliases(&d), 4);
    }

    #[test]
    fn root_fields_count_through_fragments_once() {
        let d =
            doc("mutation { a b ...F ... on Mutation { c } } fragment F on Mutation { d e ...F }");
        assert_eq!(root_fields(&d), 5);
    }
}
