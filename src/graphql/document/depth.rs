//! The real nesting of a parsed document, counted as the scan counts it: one level per
//! selection set, argument list, list, object, variable list and list type.

use async_graphql::parser::types::{
    BaseType, Directive, ExecutableDocument, Selection, SelectionSet, Type, VariableDefinition,
};
use async_graphql_value::{ConstValue, Value};

fn value(v: &Value) -> usize {
    match v {
        Value::List(items) => 1 + items.iter().map(value).max().unwrap_or(0),
        Value::Object(fields) => 1 + fields.values().map(value).max().unwrap_or(0),
        _ => 0,
    }
}

fn const_value(v: &ConstValue) -> usize {
    match v {
        ConstValue::List(items) => 1 + items.iter().map(const_value).max().unwrap_or(0),
        ConstValue::Object(fields) => 1 + fields.values().map(const_value).max().unwrap_or(0),
        _ => 0,
    }
}

fn ty(t: &Type) -> usize {
    match &t.base {
        BaseType::List(inner) => 1 + ty(inner),
        BaseType::Named(_) => 0,
    }
}

fn arguments<'a>(args: impl Iterator<Item = &'a Value>) -> usize {
    args.map(|v| 1 + value(v)).max().unwrap_or(0)
}

fn directives(ds: &[async_graphql::Positioned<Directive>]) -> usize {
    ds.iter()
        .map(|d| arguments(d.node.arguments.iter().map(|(_, v)| &v.node)))
        .max()
        .unwrap_or(0)
}

fn variables(vs: &[async_graphql::Positioned<VariableDefinition>]) -> usize {
    if vs.is_empty() {
        return 0;
    }
    1 + vs
        .iter()
        .map(|v| {
            let default = v
                .node
                .default_value
                .as_ref()
                .map_or(0, |d| const_value(&d.node));
            ty(&v.node.var_type.node)
                .max(default)
                .max(directives(&v.node.directives))
        })
        .max()
        .unwrap_or(0)
}

fn selection_set(set: &SelectionSet) -> usize {
    1 + set
        .items
        .iter()
        .map(|item| match &item.node {
            Selection::Field(f) => {
                let inner = if f.node.selection_set.node.items.is_empty() {
                    0
                } else {
                    selection_set(&f.node.selection_set.node)
                };
                inner
                    .max(arguments(f.node.arguments.iter().map(|(_, v)| &v.node)))
                    .max(directives(&f.node.directives))
            }
            Selection::InlineFragment(i) => {
                selection_set(&i.node.selection_set.node).max(directives(&i.node.directives))
            }
            Selection::FragmentSpread(s) => directives(&s.node.directives),
        })
        .max()
        .unwrap_or(0)
}

pub fn document(doc: &ExecutableDocument) -> usize {
    let operations = doc.operations.iter().map(|(_, op)| {
        selection_set(&op.node.selection_set.node)
            .max(variables(&op.node.variable_definitions))
            .max(directives(&op.node.directives))
    });
    let fragments = doc
        .fragments
        .values()
        .map(|f| selection_set(&f.node.selection_set.node).max(directives(&f.node.directives)));
    operations.chain(fragments).max().unwrap_or(0)
}
