//! Limits async-graphql has no setting for: how deeply a document may nest before it is
//! parsed (the parser recurses), how many aliases it may use and how many root fields an
//! operation may have (each root mutation field may cost a password hash). Depth and
//! complexity use the schema's own limits.

use std::{collections::HashSet, sync::Arc};

use async_graphql::{
    Request, ServerError, ServerResult, Variables,
    extensions::{
        Extension, ExtensionContext, ExtensionFactory, NextParseQuery, NextPrepareRequest,
    },
    parser::types::{ExecutableDocument, Selection, SelectionSet},
};

use crate::{config::GraphqlLimits, error::code};

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

/// The deepest nesting of `{`, `(` and `[` in a document, outside strings and comments.
pub fn nesting(doc: &str) -> usize {
    let bytes = doc.as_bytes();
    let (mut depth, mut max, mut i) = (0usize, 0usize, 0usize);
    while i < bytes.len() {
        match bytes[i] {
            b'#' => {
                while i < bytes.len() && bytes[i] != b'\n' {
                    i += 1;
                }
            }
            b'"' if bytes[i..].starts_with(b"\"\"\"") => {
                i += 3;
                while i < bytes.len() && !bytes[i..].starts_with(b"\"\"\"") {
                    i += if bytes[i] == b'\\' { 2 } else { 1 };
                }
                i += 2;
            }
            b'"' => {
                i += 1;
                while i < bytes.len() && bytes[i] != b'"' && bytes[i] != b'\n' {
                    i += if bytes[i] == b'\\' { 2 } else { 1 };
                }
            }
            b'{' | b'(' | b'[' => {
                depth += 1;
                max = max.max(depth);
            }
            b'}' | b')' | b']' => depth = depth.saturating_sub(1),
            _ => {}
        }
        i += 1;
    }
    max
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
        let depth = nesting(&request.query);
        if depth > self.0.max_nesting {
            return Err(error(
                code::GRAPHQL_PARSE_FAILED,
                format!(
                    "The document nests {depth} levels deep; at most {} are allowed",
                    self.0.max_nesting
                ),
            ));
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
    fn nesting_ignores_strings_and_comments() {
        assert_eq!(nesting("{ a { b } }"), 2);
        assert_eq!(nesting(r#"{ a(x: "{{{{") }"#), 2);
        assert_eq!(nesting("{ a # {{{{\n }"), 1);
        assert_eq!(nesting(r#"{ a(x: """ {{{ \""" {{ """) }"#), 2);
        assert_eq!(nesting(&"{a".repeat(1000)), 1000);
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
