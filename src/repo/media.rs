//! Queries on `media`: uploaded files by the name they are served under.

use chrono::{DateTime, Utc};
use sea_orm::{ActiveValue::Set, EntityTrait, QuerySelect, sea_query::OnConflict};

use super::{Conn, Error};
use crate::entity::media::{self, Column, Entity};

/// Stores `bytes` under `key` in one statement: readers see the whole file or none. A key
/// already stored gets the new bytes (keys are random and never reused, so this only
/// makes a retried write harmless).
///
/// # Errors
/// When the statement fails.
pub async fn put(db: &impl Conn, key: &str, bytes: &[u8], now: DateTime<Utc>) -> Result<(), Error> {
    let row = media::ActiveModel {
        key: Set(key.to_owned()),
        bytes: Set(bytes.to_vec()),
        created_at: Set(now),
    };
    Entity::insert(row)
        .on_conflict(
            OnConflict::column(Column::Key)
                .update_columns([Column::Bytes, Column::CreatedAt])
                .to_owned(),
        )
        .exec_without_returning(db)
        .await
        .map(|_| ())
}

/// The bytes stored under `key`, if any.
///
/// # Errors
/// When the query fails.
pub async fn get(db: &impl Conn, key: &str) -> Result<Option<Vec<u8>>, Error> {
    Entity::find_by_id(key.to_owned())
        .select_only()
        .column(Column::Bytes)
        .into_tuple::<Vec<u8>>()
        .one(db)
        .await
}

/// Removes what is stored under `key` (nothing stored is not an error).
///
/// # Errors
/// When the statement fails.
pub async fn delete(db: &impl Conn, key: &str) -> Result<(), Error> {
    Entity::delete_by_id(key.to_owned())
        .exec(db)
        .await
        .map(|_| ())
}
