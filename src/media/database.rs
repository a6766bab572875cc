//! Media kept in the database (`MEDIA_STORE=database`): every replica on one database
//! stores and serves the same files.

use super::{BoxFuture, MediaKey, MediaStore};
use crate::{clock::Clock, repo};

/// Files as rows of the `media` table.
#[derive(Debug, Clone)]
pub struct DbStore {
    db: repo::Db,
    clock: Clock,
}

impl DbStore {
    pub fn new(db: repo::Db, clock: Clock) -> Self {
        Self { db, clock }
    }
}

impl MediaStore for DbStore {
    fn put<'a>(&'a self, key: &'a MediaKey, bytes: &'a [u8]) -> BoxFuture<'a, std::io::Result<()>> {
        Box::pin(async move {
            repo::media::put(&self.db, key.as_str(), bytes, self.clock.now())
                .await
                .map_err(std::io::Error::other)
        })
    }

    fn get<'a>(&'a self, key: &'a MediaKey) -> BoxFuture<'a, std::io::Result<Option<Vec<u8>>>> {
        Box::pin(async move {
            repo::media::get(&self.db, key.as_str())
                .await
                .map_err(std::io::Error::other)
        })
    }

    fn delete<'a>(&'a self, key: &'a MediaKey) -> BoxFuture<'a, std::io::Result<()>> {
        Box::pin(async move {
            repo::media::delete(&self.db, key.as_str())
                .await
                .map_err(std::io::Error::other)
        })
    }
}
