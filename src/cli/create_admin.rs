//! `authql create-admin`: a new administrator, or `--promote` of an existing account, with
//! the password read from the terminal (unechoed) or stdin.

use crate::{
    auth::password::Hasher,
    config::{HashBudget, Settings},
    db,
    error::{AppError, Field},
    service::bootstrap::{self, CreateAdmin, Existing},
};

/// The password of a new administrator: asked for twice without echo on a terminal, else
/// the first line of stdin (its line ending is not part of the password).
fn read_password() -> Result<String, AppError> {
    use std::io::{BufRead, IsTerminal};
    let fail = |e: std::io::Error| AppError::input(Field::Password, format!("cannot read it: {e}"));
    if std::io::stdin().is_terminal() {
        let first =
            rpassword::prompt_password("Password for the new administrator: ").map_err(fail)?;
        let again = rpassword::prompt_password("The same password again: ").map_err(fail)?;
        if first != again {
            return Err(AppError::input(Field::Password, "The two passwords differ"));
        }
        return Ok(first);
    }
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line).map_err(fail)?;
    let line = line.strip_suffix('\n').unwrap_or(&line);
    Ok(line.strip_suffix('\r').unwrap_or(line).to_owned())
}

pub(super) async fn create_admin(
    settings: Settings,
    username: &str,
    email: &str,
    promote: bool,
) -> anyhow::Result<()> {
    let existing = if promote {
        Existing::Promote
    } else {
        Existing::Refuse
    };
    let conn = super::connect(&settings).await?;
    db::migrate(&conn).await?;
    let hasher = Hasher::new(settings.password_hash, HashBudget::for_tool(1))
        .await
        .map_err(|e| anyhow::anyhow!("{e:?}"))?;
    let outcome =
        bootstrap::create_admin(&conn, &hasher, username, email, existing, read_password).await;
    conn.close().await.ok();
    match outcome {
        Ok(CreateAdmin::Created(id)) => println!("created administrator {username} ({id})"),
        Ok(CreateAdmin::Promoted {
            id,
            username,
            email,
            sessions_ended,
        }) => println!(
            "promoted {username} <{email}> ({id}) to administrator; {sessions_ended} of its \
             sessions ended"
        ),
        Err(AppError::BadUserInput { field, message }) => {
            let option = match field {
                Field::Username => "--username",
                Field::Email => "--email",
                _ => "password",
            };
            anyhow::bail!("{option}: {message}")
        }
        Err(err) => return Err(anyhow::anyhow!("{err:?}")),
    }
    Ok(())
}
