//! The checked-in SDL is what the binary serves.

#[test]
fn schema_graphql_is_what_authql_schema_prints() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_authql"))
        .arg("schema")
        .env_clear()
        .output()
        .expect("authql schema runs");
    assert!(out.status.success());
    let printed = String::from_utf8(out.stdout).unwrap();
    let checked_in =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/schema.graphql"))
            .expect("schema.graphql exists");
    assert!(
        printed == checked_in,
        "schema.graphql is stale: run `cargo run -- schema > schema.graphql` and commit it"
    );
}

/// Every type, field, argument, input field and enum value of the schema says what it is:
/// the SDL is the API's reference.
#[test]
fn every_part_of_the_schema_is_described() {
    use async_graphql::parser::types::{TypeKind, TypeSystemDefinition};
    let doc = async_graphql::parser::parse_schema(authql::graphql::sdl()).unwrap();
    let mut missing = Vec::new();
    let mut check = |what: String, described: bool| {
        if !described {
            missing.push(what);
        }
    };
    for def in doc.definitions {
        let TypeSystemDefinition::Type(ty) = def else {
            continue;
        };
        let ty = ty.node;
        let name = ty.name.node.to_string();
        check(name.clone(), ty.description.is_some());
        match &ty.kind {
            TypeKind::Object(o) => {
                for f in &o.fields {
                    let field = format!("{name}.{}", f.node.name.node);
                    check(field.clone(), f.node.description.is_some());
                    for a in &f.node.arguments {
                        let arg = format!("{field}({})", a.node.name.node);
                        check(arg, a.node.description.is_some());
                    }
                }
            }
            TypeKind::InputObject(i) => {
                for f in &i.fields {
                    let field = format!("{name}.{}", f.node.name.node);
                    check(field, f.node.description.is_some());
                }
            }
            TypeKind::Enum(e) => {
                for v in &e.values {
                    let value = format!("{name}.{}", v.node.value.node);
                    check(value, v.node.description.is_some());
                }
            }
            TypeKind::Scalar | TypeKind::Interface(_) | TypeKind::Union(_) => {}
        }
    }
    assert!(missing.is_empty(), "undescribed: {missing:?}");
}
