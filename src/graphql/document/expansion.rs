//! What a document's operations select once every fragment is spread in place, measured
//! without spreading them: each fragment is measured once.
//!
//! A few hundred bytes can spread a fragment that spreads another twice, and so on: twenty
//! levels are a million fields. The executor's own checks (depth, complexity) walk the
//! spreads one by one, so such a document costs seconds of CPU before any of them refuses
//! it. Measured here first, it costs one pass.

use std::collections::{HashMap, HashSet};

use async_graphql::parser::types::{ExecutableDocument, Selection, SelectionSet};

/// What spreading every fragment would give.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Expanded {
    /// Fields the operations select, counting each time a fragment is spread.
    pub fields: usize,
    /// Longest chain of fragments spread inside one another.
    pub chain: usize,
}

struct Walk<'a> {
    doc: &'a ExecutableDocument,
    measured: HashMap<&'a str, Expanded>,
    visiting: HashSet<&'a str>,
}

impl<'a> Walk<'a> {
    fn set(&mut self, set: &'a SelectionSet) -> Expanded {
        let mut total = Expanded::default();
        for item in &set.items {
            let (fields, chain) = match &item.node {
                Selection::Field(f) => {
                    let inner = self.set(&f.node.selection_set.node);
                    (inner.fields.saturating_add(1), inner.chain)
                }
                Selection::InlineFragment(i) => {
                    let inner = self.set(&i.node.selection_set.node);
                    (inner.fields, inner.chain)
                }
                Selection::FragmentSpread(s) => {
                    let inner = self.fragment(s.node.fragment_name.node.as_str());
                    (inner.fields, inner.chain.saturating_add(1))
                }
            };
            total.fields = total.fields.saturating_add(fields);
            total.chain = total.chain.max(chain);
        }
        total
    }

    fn fragment(&mut self, name: &'a str) -> Expanded {
        if let Some(known) = self.measured.get(name) {
            return *known;
        }
        let Some(fragment) = self.doc.fragments.get(name) else {
            return Expanded::default();
        };
        // A cycle: validation refuses the document; here it adds nothing more.
        if !self.visiting.insert(name) {
            return Expanded::default();
        }
        let measured = self.set(&fragment.node.selection_set.node);
        self.visiting.remove(name);
        self.measured.insert(name, measured);
        measured
    }
}

/// The fields of all the document's operations with their fragments spread, and the
/// longest chain of spreads among all its fragments (used or not). Recurses as deep as
/// that chain: run it where the parse ran.
pub fn measure(doc: &ExecutableDocument) -> Expanded {
    let mut walk = Walk {
        doc,
        measured: HashMap::new(),
        visiting: HashSet::new(),
    };
    let mut total = Expanded::default();
    for (_, op) in doc.operations.iter() {
        let op = walk.set(&op.node.selection_set.node);
        total.fields = total.fields.saturating_add(op.fields);
        total.chain = total.chain.max(op.chain);
    }
    for (name, _) in doc.fragments.iter() {
        total.chain = total
            .chain
            .max(walk.fragment(name.as_str()).chain.saturating_add(1));
    }
    total
}

#[cfg(test)]
mod tests {
    use super::*;

    fn measured(q: &str) -> Expanded {
        measure(&async_graphql::parser::parse_query(q).unwrap())
    }

    #[test]
    fn fragments_count_each_time_they_are_spread() {
        let m = measured("{ a b ...F ...F } fragment F on Q { c d { e } }");
        assert_eq!(
            m,
            Expanded {
                fields: 2 + 2 * 3,
                chain: 1
            }
        );
    }

    #[test]
    fn a_doubling_chain_is_measured_in_one_pass() {
        let mut doc = String::from("query { ...F0 }");
        for i in 0..60 {
            doc.push_str(&format!(
                " fragment F{i} on Q {{ ...F{} ...F{} }}",
                i + 1,
                i + 1
            ));
        }
        doc.push_str(" fragment F60 on Q { a }");
        let m = measured(&doc);
        assert_eq!(m.fields, 1usize << 60);
        assert_eq!(m.chain, 61);
    }

    #[test]
    fn unused_chains_and_cycles_are_measured_without_looping() {
        let m = measured(
            "{ a } fragment A on Q { ...B } fragment B on Q { ...C } fragment C on Q { x }",
        );
        assert_eq!(
            m,
            Expanded {
                fields: 1,
                chain: 3
            }
        );
        let m = measured("{ ...A } fragment A on Q { ...B } fragment B on Q { ...A }");
        assert_eq!(m.fields, 0);
    }
}
