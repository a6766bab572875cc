//! The `authql` command line: one binary for the API and its tools.

use std::{process::ExitCode, time::Duration};

use anyhow::Context as _;
use clap::{Parser, Subcommand};

mod create_admin;

use crate::{
    App, BuildOptions,
    auth::password::Hasher,
    config::Settings,
    db,
    error::{AppError, Field},
    graphql, shutdown_signal, telemetry,
};

/// authql: self-hosted authentication with a GraphQL API.
#[derive(Debug, Parser)]
#[command(name = "authql", version, about, after_long_help = crate::config::help_text())]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the API (the default); applies pending migrations first.
    Serve {
        /// Do not apply pending migrations at start.
        #[arg(long)]
        no_migrate: bool,
    },
    /// Consume the mail queue and send mail over SMTP (needs AMQP_URL).
    Worker,
    /// Create a new verified administrator (refused when the username or the email has an
    /// account). The password is read from stdin (or asked for, unechoed).
    CreateAdmin {
        #[arg(long)]
        username: String,
        #[arg(long)]
        email: String,
        /// Instead, make the existing account with this username and this email (both its
        /// own, the email verified) an administrator; its sessions end.
        #[arg(long)]
        promote: bool,
    },
    /// Manage the database schema.
    Migrate {
        #[command(subcommand)]
        action: Option<MigrateAction>,
    },
    /// Print the GraphQL schema (SDL); `schema.graphql` is this output.
    Schema,
    /// Time Argon2id at the configured PASSWORD_HASH_* parameters on this machine: what one
    /// login costs, and so how many logins per second the cores can verify.
    HashCost {
        /// Hashes to time.
        #[arg(long, default_value_t = 20)]
        rounds: u32,
    },
    /// Exit 0 when the service answers 200 at `--url` (default: /readyz on BIND), for a
    /// container HEALTHCHECK in an image without curl.
    Healthcheck {
        #[arg(long)]
        url: Option<String>,
    },
    /// Add a new signing key: published at once, signing six minutes later (when every
    /// replica and verifier has it); the old key stays published until its tokens expire.
    RotateKeys {
        /// Sign with the new key at once (for a compromised key; verifiers that cached the
        /// JWKS may refuse new tokens until they re-fetch it).
        #[arg(long)]
        now: bool,
    },
    /// Revoke a signing key (a leaked one): it stops signing and verifying at once here,
    /// and on every replica at its next key refresh (within a minute), which also forgets
    /// the tokens it verified. Its tokens are refused from then on; when no other key can
    /// sign, a new one signs at once.
    RevokeKey {
        /// The key id (`kid`) as the JWKS and the tokens' header show it (a thumbprint in
        /// base64url, which may begin with `-`).
        #[arg(allow_hyphen_values = true)]
        kid: String,
    },
}

#[derive(Debug, Clone, Copy, Subcommand)]
pub enum MigrateAction {
    /// Apply every pending migration (the default).
    Up,
    /// Roll back the most recent migration.
    Down,
    /// List the migrations and whether each is applied.
    Status,
    /// Drop every table and apply all migrations again (destroys all data).
    Fresh {
        /// Required with APP_ENV=production.
        #[arg(long)]
        force: bool,
    },
}

/// Runs the parsed command; the exit code says how it went.
pub async fn run(cli: Cli) -> ExitCode {
    let command = cli.command.unwrap_or(Command::Serve { no_migrate: false });
    if let Command::Schema = command {
        print!("{}", graphql::sdl());
        return ExitCode::SUCCESS;
    }
    if let Command::HashCost { rounds } = &command {
        return match hash_cost(*rounds).await {
            Ok(()) => ExitCode::SUCCESS,
            Err(err) => {
                eprintln!("authql: {err:#}");
                ExitCode::FAILURE
            }
        };
    }
    if let Command::Healthcheck { url } = &command {
        let url = match url {
            Some(url) => url.clone(),
            None => match Settings::from_env() {
                Ok(s) => {
                    let mut bind = s.http.bind;
                    if bind.ip().is_unspecified() {
                        bind.set_ip(std::net::Ipv4Addr::LOCALHOST.into());
                    }
                    format!("http://{bind}/readyz")
                }
                Err(err) => {
                    eprintln!("authql: configuration error: {err}");
                    return ExitCode::from(2);
                }
            },
        };
        return match crate::http::probe::get_status(&url, Duration::from_secs(3)).await {
            Ok(200) => ExitCode::SUCCESS,
            Ok(status) => {
                eprintln!("authql: {url} answered {status}");
                ExitCode::FAILURE
            }
            Err(err) => {
                eprintln!("authql: {url}: {err}");
                ExitCode::FAILURE
            }
        };
    }
    let settings = match Settings::from_env() {
        Ok(s) => s,
        Err(err) => {
            eprintln!("authql: configuration error: {err}");
            return ExitCode::from(2);
        }
    };
    let _logs = telemetry::init(settings.log_format);
    let result = match command {
        Command::Serve { no_migrate } => serve(settings, !no_migrate).await,
        Command::Migrate { action } => migrate(settings, action.unwrap_or(MigrateAction::Up)).await,
        Command::RotateKeys { now } => rotate_keys(settings, now).await,
        Command::RevokeKey { kid } => revoke_key(settings, &kid).await,
        Command::Worker => crate::worker::run(settings, shutdown_signal()).await,
        Command::CreateAdmin {
            username,
            email,
            promote,
        } => create_admin::create_admin(settings, &username, &email, promote).await,
        Command::Schema | Command::Healthcheck { .. } | Command::HashCost { .. } => Ok(()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            tracing::error!("{err:#}");
            ExitCode::FAILURE
        }
    }
}

async fn serve(settings: Settings, migrate: bool) -> anyhow::Result<()> {
    let options = BuildOptions {
        migrate,
        ..BuildOptions::default()
    };
    let app = App::build(settings, options).await?;
    let addr = app.local_addr()?;
    tracing::info!("authql listening on http://{addr} (GraphiQL at http://{addr}/graphql)");
    app.run_until(shutdown_signal()).await;
    tracing::info!("authql stopped");
    Ok(())
}

async fn connect(settings: &Settings) -> anyhow::Result<crate::repo::Db> {
    db::connect(settings).await.with_context(|| {
        format!(
            "cannot connect to the database ({})",
            db::describe_url(settings.database.url.expose())
        )
    })
}

async fn rotate_keys(settings: Settings, at_once: bool) -> anyhow::Result<()> {
    use crate::auth::keys::{ROTATION_DELAY, rotate};
    let conn = connect(&settings).await?;
    db::migrate(&conn).await?;
    let delay = if at_once {
        Duration::ZERO
    } else {
        ROTATION_DELAY
    };
    let custody = crate::auth::custody::Custody::from_settings(&settings);
    crate::auth::keys::seal_stored_keys(&conn, &custody)
        .await
        .map_err(key_error)?;
    let (kid, from) = rotate(&conn, &custody, crate::clock::Clock::system().now(), delay)
        .await
        .map_err(key_error)?;
    println!("{kid}");
    tracing::info!(%kid, signs_from = %from, "new signing key published");
    conn.close().await?;
    Ok(())
}

fn key_error(e: AppError) -> anyhow::Error {
    match e {
        AppError::Internal(cause) => cause,
        AppError::NotFound(why) => anyhow::anyhow!("{why}"),
        other => anyhow::anyhow!("{other:?}"),
    }
}

async fn revoke_key(settings: Settings, kid: &str) -> anyhow::Result<()> {
    let conn = connect(&settings).await?;
    db::migrate(&conn).await?;
    let custody = crate::auth::custody::Custody::from_settings(&settings);
    // The same check as at start: a replacement key must be stored the way the others
    // are, under the key that opens them.
    if let Err(err) = crate::auth::keys::seal_stored_keys(&conn, &custody).await {
        conn.close().await.ok();
        return Err(key_error(err));
    }
    let now = crate::clock::Clock::system().now();
    let revoked = crate::auth::keys::revoke(&conn, &custody, kid, now)
        .await
        .map_err(key_error);
    conn.close().await.ok();
    let revoked = revoked?;
    match &revoked.replacement {
        Some(new) => println!("revoked {kid}; {new} signs from now"),
        None => println!("revoked {kid}"),
    }
    tracing::info!(%kid, replacement = ?revoked.replacement, "signing key revoked");
    Ok(())
}

/// Prints the mean time of one Argon2id verification on one core (as a login does), the
/// verifications per second the machine's cores allow at that speed, and the rate all cores
/// verifying at once really reach (they share caches and memory bandwidth).
async fn hash_cost(rounds: u32) -> anyhow::Result<()> {
    use crate::{
        config::HashBudget,
        domain::PasswordHash,
        domain::{ClientKey, Password},
    };
    let settings = Settings::from_env().map_err(|e| anyhow::anyhow!("{e}"))?;
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    let rounds = rounds.max(1);
    let hasher = Hasher::new(settings.password_hash, HashBudget::for_tool(cores))
        .await
        .map_err(|e| anyhow::anyhow!("{e:?}"))?;
    let password = Password::candidate("hash-cost measurement".into(), Field::Password)
        .map_err(|e| anyhow::anyhow!("{e:?}"))?;
    let hash = hasher
        .hash(&password, &ClientKey::of(None))
        .await
        .map_err(|e| anyhow::anyhow!("{e:?}"))?;
    let verify_all = |hasher: Hasher, password: Password, hash: PasswordHash| async move {
        for _ in 0..rounds {
            hasher
                .verify(&password, Some(&hash), &ClientKey::of(None))
                .await?;
        }
        Ok::<_, AppError>(())
    };

    let started = std::time::Instant::now();
    verify_all(hasher.clone(), password.clone(), hash.clone())
        .await
        .map_err(|e| anyhow::anyhow!("{e:?}"))?;
    let each = started.elapsed().as_secs_f64() / f64::from(rounds);

    let started = std::time::Instant::now();
    let mut all = tokio::task::JoinSet::new();
    for _ in 0..cores {
        all.spawn(verify_all(hasher.clone(), password.clone(), hash.clone()));
    }
    while let Some(done) = all.join_next().await {
        done?.map_err(|e| anyhow::anyhow!("{e:?}"))?;
    }
    let parallel_per_second = f64::from(rounds) * cores as f64 / started.elapsed().as_secs_f64();

    let p = settings.password_hash;
    println!(
        "{{\"verify_ms\":{:.3},\"cores\":{cores},\"bound_per_second\":{:.1},\"parallel_per_second\":{parallel_per_second:.1},\"m_kib\":{},\"t\":{},\"p\":{}}}",
        each * 1000.0,
        cores as f64 / each,
        p.memory_kib,
        p.iterations,
        p.parallelism
    );
    Ok(())
}

async fn migrate(settings: Settings, action: MigrateAction) -> anyhow::Result<()> {
    let conn = connect(&settings).await?;
    match action {
        MigrateAction::Up => {
            db::migrate(&conn).await?;
            tracing::info!("migrations applied");
        }
        MigrateAction::Down => {
            db::migrate_down(&conn).await?;
            tracing::info!("rolled back the most recent migration");
        }
        MigrateAction::Status => {
            for (name, applied) in db::migration_status(&conn).await? {
                println!("{} {name}", if applied { "applied" } else { "pending" });
            }
        }
        MigrateAction::Fresh { force } => {
            if settings.is_production() && !force {
                anyhow::bail!(
                    "`migrate fresh` destroys all data; add --force with APP_ENV=production"
                );
            }
            db::migrate_fresh(&conn).await?;
            tracing::info!("database recreated");
        }
    }
    conn.close().await?;
    Ok(())
}
