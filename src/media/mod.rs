//! Where uploaded avatars live. [`MediaStore`] is the small interface the rest of authql
//! uses; `MEDIA_STORE` picks [`DbStore`] (rows of the database, shared by every replica)
//! or [`LocalDir`] (files in `MEDIA_DIR`), and an object store could take their place.

mod database;
pub mod reencoder;

pub use database::DbStore;

use std::{
    future::Future,
    path::{Path, PathBuf},
    pin::Pin,
};

use crate::domain::image::ImageFormat;

/// Boxed future, so the trait stays object-safe (`Arc<dyn MediaStore>`).
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// A stored file's name: 32 random hex digits and the format's extension.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MediaKey(String);

impl MediaKey {
    /// A new random name for a file of `format`.
    ///
    /// # Errors
    /// Only when the OS cannot supply randomness.
    pub fn random(format: ImageFormat) -> std::io::Result<Self> {
        let mut bytes = [0u8; 16];
        getrandom::fill(&mut bytes).map_err(std::io::Error::other)?;
        let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
        Ok(Self(format!("{hex}.{}", format.extension())))
    }

    /// A name as it appears in a URL or the database, if it is one of ours (this is what
    /// keeps `..` and friends out of file paths).
    pub fn parse(name: &str) -> Option<Self> {
        let (stem, ext) = name.split_once('.')?;
        let ours = stem.len() == 32
            && stem
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
            && ImageFormat::from_extension(ext).is_some();
        ours.then(|| Self(name.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn format(&self) -> Option<ImageFormat> {
        ImageFormat::from_extension(self.0.rsplit('.').next()?)
    }
}

/// Storage for uploaded media.
pub trait MediaStore: Send + Sync {
    /// Stores `bytes` under `key`, atomically (a reader never sees half a file).
    fn put<'a>(&'a self, key: &'a MediaKey, bytes: &'a [u8]) -> BoxFuture<'a, std::io::Result<()>>;
    /// The file's bytes, if it exists.
    fn get<'a>(&'a self, key: &'a MediaKey) -> BoxFuture<'a, std::io::Result<Option<Vec<u8>>>>;
    /// Removes the file (removing a missing file is not an error).
    fn delete<'a>(&'a self, key: &'a MediaKey) -> BoxFuture<'a, std::io::Result<()>>;
}

/// Files in a local folder.
#[derive(Debug, Clone)]
pub struct LocalDir {
    dir: PathBuf,
}

impl LocalDir {
    pub fn new(dir: impl AsRef<Path>) -> Self {
        Self {
            dir: dir.as_ref().to_owned(),
        }
    }

    fn path(&self, key: &MediaKey) -> PathBuf {
        self.dir.join(key.as_str())
    }
}

impl MediaStore for LocalDir {
    fn put<'a>(&'a self, key: &'a MediaKey, bytes: &'a [u8]) -> BoxFuture<'a, std::io::Result<()>> {
        Box::pin(async move {
            tokio::fs::create_dir_all(&self.dir).await?;
            let tmp = self.dir.join(format!(".{}.part", key.as_str()));
            tokio::fs::write(&tmp, bytes).await?;
            tokio::fs::rename(&tmp, self.path(key)).await
        })
    }

    fn get<'a>(&'a self, key: &'a MediaKey) -> BoxFuture<'a, std::io::Result<Option<Vec<u8>>>> {
        Box::pin(async move {
            match tokio::fs::read(self.path(key)).await {
                Ok(bytes) => Ok(Some(bytes)),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
                Err(e) => Err(e),
            }
        })
    }

    fn delete<'a>(&'a self, key: &'a MediaKey) -> BoxFuture<'a, std::io::Result<()>> {
        Box::pin(async move {
            match tokio::fs::remove_file(self.path(key)).await {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
                _ => Ok(()),
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_our_own_names_are_keys() {
        let key = MediaKey::random(ImageFormat::Png).unwrap();
        assert_eq!(MediaKey::parse(key.as_str()), Some(key.clone()));
        assert_eq!(key.format(), Some(ImageFormat::Png));
        for bad in [
            "../etc/passwd",
            "x.png",
            "0123456789abcdef0123456789abcdef.svg",
            "0123456789ABCDEF0123456789abcdef.png",
            "0123456789abcdef0123456789abcdef.png/..",
        ] {
            assert_eq!(MediaKey::parse(bad), None, "{bad}");
        }
    }
}
