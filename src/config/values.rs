//! The value types settings are made of, and the reading of the declaration in `mod.rs`:
//! variables to typed fields, errors that name the variable, the help text.

use clap::{CommandFactory as _, FromArgMatches as _, error::ContextKind, error::ContextValue};

use super::Settings;

/// Where authql runs; production refuses settings that are only safe for development.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AppEnv {
    Development,
    Production,
}

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Pretty,
    Json,
}

/// Which database engine a URL points at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DatabaseKind {
    Postgres,
    Sqlite,
}

/// Where uploaded avatars are kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum MediaStoreKind {
    /// Rows of the database: every replica on one database serves every avatar.
    Database,
    /// Files in `MEDIA_DIR`, seen only by the processes that share that folder.
    #[default]
    Local,
}

/// The kind of RabbitMQ queue mail waits in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QueueType {
    /// Replicated; a retried message moves back to the main queue at least once.
    Quorum,
    Classic,
}

/// Browser origins allowed by CORS.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CorsOrigins {
    /// `*`: any origin (development only; never combined with credentials).
    Any,
    /// Exact origins such as `https://app.example.com`.
    List(Vec<String>),
}

/// The 32-byte key that seals the private signing keys. `Debug` never prints it.
#[derive(Clone, PartialEq, Eq)]
pub struct SealingKey(pub [u8; 32]);

impl std::fmt::Debug for SealingKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SealingKey(***)")
    }
}

/// A value that must never be printed: `Debug` shows only that it is there.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The secret itself, for the one place that needs it (a connection, a signature).
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(***)")
    }
}

/// Why the configuration was refused. The message always names the variable.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ConfigError {
    #[error("invalid {name}: {reason}{}", shown(.value))]
    Invalid {
        name: String,
        /// The value given, unless the variable holds a secret.
        value: Option<String>,
        reason: String,
    },
    #[error("unsafe {name} for APP_ENV=production: {reason}")]
    Unsafe { name: &'static str, reason: String },
}

fn shown(value: &Option<String>) -> String {
    value
        .as_ref()
        .map(|v| format!(" (got {v:?})"))
        .unwrap_or_default()
}

impl ConfigError {
    /// The variable this error is about.
    pub fn variable(&self) -> &str {
        match self {
            Self::Invalid { name, .. } => name,
            Self::Unsafe { name, .. } => name,
        }
    }
}

/// One configuration variable as declared: its name, default and meaning.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Variable {
    pub name: String,
    /// `None`: unset by default (the feature it configures is off, or a dev fallback is used).
    pub default: Option<String>,
    pub help: String,
    /// Secret values (URLs with passwords) are never echoed back in errors or logs.
    pub secret: bool,
    /// The field's flag, through which [`read`] hands the value to the parser.
    long: String,
}

/// Every variable authql reads, in the order they are declared.
pub fn variables() -> Vec<Variable> {
    Settings::command()
        .get_arguments()
        .filter_map(|arg| {
            Some(Variable {
                name: arg.get_env()?.to_string_lossy().into_owned(),
                default: arg
                    .get_default_values()
                    .first()
                    .map(|d| d.to_string_lossy().into_owned())
                    .filter(|d| !d.is_empty()),
                help: arg.get_help().map(ToString::to_string).unwrap_or_default(),
                secret: arg.is_hide_env_values_set(),
                long: arg.get_long()?.to_owned(),
            })
        })
        .collect()
}

/// The variables as help text, for `authql --help`.
pub fn help_text() -> String {
    let mut out = String::from("Configuration (environment variables; .env is read if present):\n");
    for v in variables() {
        let default = v.default.as_deref().unwrap_or("unset");
        out.push_str(&format!(
            "  {:<26} {} [default: {default}]\n",
            v.name, v.help
        ));
    }
    out
}

/// A variable that may be set empty to turn its feature off (elsewhere empty means default).
const EMPTY_MEANS_OFF: &[&str] = &["METRICS_BIND"];

/// Parses every declared variable found by `lookup` (trimmed; empty means unset) into the
/// typed settings, applying the declared defaults.
pub(super) fn read(lookup: impl Fn(&str) -> Option<String>) -> Result<Settings, ConfigError> {
    let variables = variables();
    let given: Vec<(&Variable, String)> = variables
        .iter()
        .filter_map(|v| {
            let raw = lookup(&v.name)?.trim().to_owned();
            (!raw.is_empty() || EMPTY_MEANS_OFF.contains(&v.name.as_str())).then_some((v, raw))
        })
        .collect();
    let args = given.iter().map(|(v, raw)| format!("--{}={raw}", v.long));
    // Values come only from `lookup`: clap reading the process environment itself would let
    // it leak into a test's settings.
    let command = Settings::command().mut_args(|arg| arg.env(None));
    let refused = |err: clap::Error| {
        let flag = match err.get(ContextKind::InvalidArg) {
            Some(ContextValue::String(flag)) => flag.clone(),
            _ => String::new(),
        };
        let long = flag.trim_start_matches('-').split([' ', '=']).next();
        let Some((variable, raw)) = given.iter().find(|(v, _)| Some(v.long.as_str()) == long)
        else {
            return ConfigError::Invalid {
                name: flag,
                value: None,
                reason: err.kind().to_string(),
            };
        };
        let reason = std::error::Error::source(&err)
            .map_or_else(|| err.kind().to_string(), ToString::to_string);
        ConfigError::Invalid {
            name: variable.name.clone(),
            value: (!variable.secret).then(|| raw.clone()),
            reason,
        }
    };
    let matches = command.try_get_matches_from(args).map_err(&refused)?;
    Settings::from_arg_matches(&matches).map_err(refused)
}
