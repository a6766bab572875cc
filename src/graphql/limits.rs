//! Limits async-graphql has no setting for: every document is scanned and parsed through
//! [`super::document`] (bounded nesting and tokens, a stack-safe parse), may use only so
//! many aliases, and an operation may have only so many root fields (each root mutation
//! field may cost a password hash). With introspection off, asking for the schema is an
//! error that says so. Depth, complexity and directives use the schema's own limits.

use std::{collections::HashSet, sync::Arc};

use async_graphql::{
    Request, ServerError, ServerResult, Variables,
    extensions::{
        Extension, ExtensionContext, ExtensionFactory, NextParseQuery, NextPrepareRequest,
    },
    parser::types::{ExecutableDocument, Selection, SelectionSet},
};

use super::document;
use crate::{config::GraphqlLimits, error::code};

/// Marks a request whose document the HTTP layer has parsed already (through
/// [`document::parse`], to see whether a GET would run a mutation).
#[derive(Debug, Clone, Copy)]
pub struct PreParsed;

fn is_pre_parsed(request: &Request) -> bool {
    request
        .data
        .get(&std::any::TypeId::of::<PreParsed>())
        .is_some()
}

/// Extension factory: add it to the schema once.
pub struct Limits(pub GraphqlLimits);

impl ExtensionFactory for Limits {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(LimitsExtension(self.0.clone()))
    }
}

struct LimitsExtension(GraphqlLimits);

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
            let doc = document::parse(&request.query, &(&self.0).into())
                .map_err(|refused| error(refused.code(), refused.to_string()))?;
            request.set_parsed_query(doc);
        }
        next.run(ctx, request).await
    }

    async fn parse_query(
        &self,
        ctx: &ExtensionContext<'_>,
        query: &str,
        variables: &Variables,
        next: NextParseQuery<'_>,
    ) -> ServerResult<ExecutableDocument> {
        let doc = next.run(ctx, query, variables).await?;
        if !self.0.introspection
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
        if used > self.0.max_aliases {
            return Err(error(
                code::GRAPHQL_VALIDATION_FAILED,
                format!(
                    "The document uses {used} aliases; at most {} are allowed",
                    self.0.max_aliases
                ),
            ));
        }
        let roots = root_fields(&doc);
        if roots > self.0.max_root_fields {
            return Err(error(
                code::GRAPHQL_VALIDATION_FAILED,
                format!(
                    "An operation selects {roots} root fields; at most {} are allowed",
                    self.0.max_root_fields
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
