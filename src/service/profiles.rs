//! Profiles: the public lookup, editing one's own profile, and avatars.

use uuid::Uuid;

use crate::{
    domain::{
        Account, AccountChanges, LookupRefused, Username, image, profile,
        profile::{ProfileData, PublicProfile},
    },
    error::{AppError, Field, FieldChecks},
    media::MediaKey,
    repo,
    service::current_user::CurrentUser,
    state::AppState,
};

/// Largest avatar accepted.
pub const MAX_AVATAR_BYTES: usize = 2 * 1024 * 1024;

/// The profile of the active user with this username, compared case-insensitively.
///
/// # Errors
/// `BAD_USER_INPUT` on `username` for control characters (no name has them).
#[tracing::instrument(skip_all)]
pub async fn public_profile(
    state: &AppState,
    username: &str,
) -> Result<Option<PublicProfile>, AppError> {
    let max = crate::domain::username_max_len();
    let key = match crate::domain::parse_username_lookup(username, max) {
        Ok(key) => key,
        // No account has a name that long (or empty): there is no such profile.
        Err(LookupRefused::TooLong | LookupRefused::Empty) => return Ok(None),
        Err(why) => return Err(why.input_error(Field::Username, max)),
    };
    Ok(repo::profiles::find_public_by_username(&state.db, &key).await?)
}

/// The profile of a user, by id.
///
/// # Errors
/// Only internal ones.
pub async fn of_user(state: &AppState, user_id: Uuid) -> Result<ProfileData, AppError> {
    repo::profiles::find_by_user(&state.db, user_id)
        .await?
        .ok_or_else(|| AppError::internal(anyhow::anyhow!("user {user_id} has no profile")))
}

/// What `updateProfile` was given; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct ProfileUpdate {
    pub username: Option<String>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub bio: Option<String>,
    pub contact: Option<String>,
}

/// Changes the signed-in user's own names and profile, only the fields given.
///
/// # Errors
/// `BAD_USER_INPUT` naming the field for a broken rule or a taken username.
pub async fn update_own(
    state: &AppState,
    me: &CurrentUser,
    update: ProfileUpdate,
) -> Result<(Account, ProfileData), AppError> {
    // Every field is checked, and every broken rule reported at once.
    let mut checks = FieldChecks::default();
    let username = checks.given(update.username.as_deref(), Username::parse);
    let first_name = checks.given(update.first_name.as_deref(), |v| {
        profile::name(v, Field::FirstName)
    });
    let last_name = checks.given(update.last_name.as_deref(), |v| {
        profile::name(v, Field::LastName)
    });
    let bio = checks.given(update.bio.as_deref(), profile::bio);
    let contact = checks.given(update.contact.as_deref(), profile::contact);
    checks.finish()?;
    let changes = AccountChanges {
        first_name,
        last_name,
        ..AccountChanges::default()
    };
    let id = me.account.id;
    let now = state.clock.now();

    let txn = repo::begin(&state.db).await?;
    if let Some(name) = &username {
        let own = name.key() == crate::domain::username_lookup_key(&me.account.username);
        let taken = !own && repo::users::username_taken(&txn, &name.key()).await?;
        if taken {
            return Err(AppError::input(Field::Username, "This username is taken"));
        }
    }
    let changes = AccountChanges {
        username: username.map(Username::into_inner),
        ..changes
    };
    // A name taken meanwhile is reported on `username`, as the check above would have.
    repo::users::update(&txn, id, changes, now).await?;
    repo::profiles::update(&txn, id, bio, contact, now).await?;
    let (user, profile) = repo::users::find_with_profile(&txn, id)
        .await?
        .ok_or(AppError::NotFound("No such user"))?;
    repo::commit(txn).await?;
    Ok((user, profile.unwrap_or_default()))
}

/// Replaces the signed-in user's avatar with `bytes`, a PNG, JPEG or WebP of at most
/// [`MAX_AVATAR_BYTES`], judged by content. What is stored is the picture alone, decoded
/// and written out again upright ([`image::reencode`]): no metadata, nothing after the
/// image's end. The file is stored under a random name; the previous one is removed once
/// the new one is in place. If anything fails the old avatar stays.
///
/// # Errors
/// `BAD_USER_INPUT` on `file` for anything that is not an acceptable image;
/// `RATE_LIMITED` when no decoding turn comes in time.
pub async fn set_avatar(
    state: &AppState,
    me: &CurrentUser,
    bytes: &[u8],
) -> Result<ProfileData, AppError> {
    if bytes.len() > MAX_AVATAR_BYTES {
        return Err(AppError::input(Field::File, "Avatars are at most 2 MiB"));
    }
    let image = match state.reencoder.reencode(bytes.to_vec()).await? {
        Ok(image) => image,
        Err(e @ image::ImageError::Unwritable) => return Err(AppError::internal(e)),
        Err(e) => return Err(AppError::input(Field::File, format!("Avatar: {e}"))),
    };
    // What is stored and served is held to the same bound as what was sent: a re-encoded
    // photo (a JPEG saved at a low quality, written again at ours) can come out larger.
    if image.bytes.len() > MAX_AVATAR_BYTES {
        return Err(AppError::input(
            Field::File,
            "Avatar: re-encoded, this image is larger than 2 MiB; upload a smaller one",
        ));
    }
    let key = MediaKey::random(image.format).map_err(AppError::internal)?;
    state
        .media
        .put(&key, &image.bytes)
        .await
        .map_err(AppError::internal)?;

    let id = me.account.id;
    let now = state.clock.now();
    let stored = async {
        let txn = repo::begin(&state.db).await?;
        // Locked, so two uploads at once each see the other's file as the old one.
        let old = repo::profiles::find_by_user_for_update(&txn, id)
            .await?
            .and_then(|p| p.avatar);
        repo::profiles::set_avatar(&txn, id, Some(key.as_str().to_owned()), now).await?;
        let profile = repo::profiles::find_by_user(&txn, id).await?;
        repo::commit(txn).await?;
        Ok::<_, AppError>((old, profile))
    }
    .await;
    let (old, profile) = match stored {
        Ok(done) => done,
        Err(err) => {
            // The new file never became the avatar: remove it, keep the old one.
            let _ = state.media.delete(&key).await;
            return Err(err);
        }
    };
    remove_avatar_file(state, old.as_deref()).await;
    tracing::info!(user_id = %id, width = image.width, height = image.height, "avatar replaced");
    Ok(profile.unwrap_or_default())
}

/// Removes an avatar file (after its user is gone).
pub async fn remove_avatar_file(state: &AppState, avatar: Option<&str>) {
    if let Some(key) = avatar.and_then(MediaKey::parse)
        && let Err(err) = state.media.delete(&key).await
    {
        tracing::warn!(error = %err, "could not remove an avatar file");
    }
}
