//! Writing mail to the outbox, inside the caller's transaction.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::{Mail, MailKind, MailMessage};
use crate::repo::{
    self,
    outbox::{self, Claimed},
};

/// Writes a mail to the outbox. Call it in the transaction of the change that causes the
/// mail: a committed change always gets its mail, a rolled-back one never does.
///
/// # Errors
/// When the insert fails.
pub async fn enqueue(
    db: &impl repo::Conn,
    to: &str,
    mail: Mail,
    now: DateTime<Utc>,
) -> Result<Uuid, repo::Error> {
    let id = Uuid::now_v7();
    let kind = mail.kind();
    let payload =
        serde_json::to_string(&mail.into_vars()).map_err(|e| repo::Error::Custom(e.to_string()))?;
    outbox::insert(db, id, kind.as_str(), to, payload, now).await?;
    Ok(id)
}

/// The message a claimed row stands for.
///
/// # Errors
/// When the row's kind or payload cannot be read (a row no code of this version wrote).
pub fn message(row: &Claimed) -> Result<MailMessage, String> {
    let kind = MailKind::parse(&row.kind).ok_or_else(|| format!("unknown kind {}", row.kind))?;
    let vars = serde_json::from_str(&row.payload).map_err(|e| format!("payload: {e}"))?;
    Ok(MailMessage {
        id: row.id,
        kind,
        to: row.recipient.clone(),
        vars,
    })
}
