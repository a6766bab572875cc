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
