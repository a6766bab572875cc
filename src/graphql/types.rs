//! GraphQL object and input types: objects over the domain records services return, and
//! inputs that convert into what services take.

use async_graphql::{
    ComplexObject, Context, ID, InputObject, Object, Result, ResultExt, SimpleObject,
};
use chrono::{DateTime, Utc};

use super::context;
use crate::{
    domain::{
        Account, AccountChanges,
        profile::{ProfileData, PublicProfile},
    },
    service::{
        self,
        sessions::{Issued, IssuedFor, SessionInfo},
    },
};

/// The public face of an account: what anyone may see.
#[derive(SimpleObject, Clone)]
#[graphql(complex)]
pub struct Profile {
    /// The account's username, in the case its owner chose.
    pub username: String,
    /// A short text the user wrote about themselves.
    pub bio: String,
    /// How to reach the user, as they chose to publish it.
    pub contact: String,
    #[graphql(skip)]
    pub avatar: Option<String>,
}

#[ComplexObject]
impl Profile {
    /// The absolute URL of the user's picture, if they uploaded one.
    async fn avatar_url(&self, ctx: &Context<'_>) -> Result<Option<String>> {
        let base = &context::state(ctx)?.public_url;
        Ok(self
            .avatar
            .as_ref()
            .map(|key| format!("{base}/media/{key}")))
    }
}

impl From<PublicProfile> for Profile {
    fn from(p: PublicProfile) -> Self {
        Self {
            username: p.username,
            bio: p.bio,
            contact: p.contact,
            avatar: p.avatar,
        }
    }
}

impl Profile {
    pub fn of(username: &str, data: ProfileData) -> Self {
        Self {
            username: username.to_owned(),
            bio: data.bio,
            contact: data.contact,
            avatar: data.avatar,
        }
    }
}

/// An account, with its profile if it was read already.
pub struct User {
    account: Account,
    preloaded_profile: Option<ProfileData>,
}

/// An account. Only its owner and administrators see one.
#[Object]
impl User {
    /// Stable identifier (a UUID).
    async fn id(&self) -> ID {
        ID(self.account.id.to_string())
    }

    /// 3–32 letters, digits and `_ . -`; unique regardless of case.
    async fn username(&self) -> &str {
        &self.account.username
    }

    /// Lower-cased; unique.
    async fn email(&self) -> &str {
        &self.account.email
    }

    /// Whether the owner has proven they read this address.
    async fn email_verified(&self) -> bool {
        self.account.email_verified
    }

    /// Given name, as the user wrote it (may be empty).
    async fn first_name(&self) -> &str {
        &self.account.first_name
    }

    /// Family name, as the user wrote it (may be empty).
    async fn last_name(&self) -> &str {
        &self.account.last_name
    }

    /// Administrators may manage every account.
    async fn is_admin(&self) -> bool {
        self.account.is_admin
    }

    /// Deactivated accounts cannot sign in.
    async fn is_active(&self) -> bool {
        self.account.is_active
    }

    /// When the account was created.
    async fn created_at(&self) -> DateTime<Utc> {
        self.account.created_at
    }

    /// When the user last signed in, if ever.
    async fn last_login_at(&self) -> Option<DateTime<Utc>> {
        self.account.last_login_at
    }

    /// The user's public profile.
    async fn profile(&self, ctx: &Context<'_>) -> Result<Profile> {
        let data = match &self.preloaded_profile {
            Some(data) => data.clone(),
            None => {
                let state = context::state(ctx)?;
                service::profiles::of_user(state, self.account.id)
                    .await
                    .extend()?
            }
        };
        Ok(Profile::of(&self.account.username, data))
    }

    /// The account's second factor.
    async fn mfa(&self, ctx: &Context<'_>) -> Result<Mfa> {
        let state = context::state(ctx)?;
        let status = service::second_factor::status(state, self.account.id)
            .await
            .extend()?;
        Ok(Mfa {
            totp_enabled: status.totp_enabled,
            recovery_codes_left: i32::try_from(status.recovery_codes_left).unwrap_or(i32::MAX),
        })
    }
}

/// An account's second factor.
#[derive(SimpleObject)]
pub struct Mfa {
    /// Whether signing in asks for a code from an authenticator app (TOTP).
    pub totp_enabled: bool,
    /// Unused recovery codes (0 without a second factor).
    pub recovery_codes_left: i32,
}

impl User {
    /// The account, with its profile if it was read already.
    pub fn new(account: Account, profile: Option<ProfileData>) -> Self {
        Self {
            account,
            preloaded_profile: profile,
        }
    }
}

/// Tokens for a signed-in session.
#[derive(SimpleObject)]
#[graphql(complex)]
pub struct AuthPayload {
    /// A JWT (EdDSA) to send as `Authorization: Bearer <accessToken>`.
    pub access_token: String,
    /// An opaque token for `refresh` and `logout`; each one works once. The empty string
    /// in cookie mode (`X-Authql-Cookie: 1`), where it is set as an `HttpOnly` cookie.
    pub refresh_token: String,
    /// Always `Bearer`.
    pub token_type: String,
    /// Seconds until the access token expires.
    pub expires_in: i32,
    /// Seconds the refresh token stays usable if not refreshed.
    pub refresh_expires_in: i32,
    #[graphql(skip)]
    pub user_ref: IssuedFor,
}

#[ComplexObject]
impl AuthPayload {
    /// The signed-in user.
    async fn user(&self, ctx: &Context<'_>) -> Result<User> {
        let account = match &self.user_ref {
            IssuedFor::Loaded(account) => account.clone(),
            IssuedFor::Id(id) => service::accounts::by_id(context::state(ctx)?, *id)
                .await
                .extend()?,
        };
        Ok(User::new(account, None))
    }
}

fn seconds(n: u64) -> i32 {
    i32::try_from(n).unwrap_or(i32::MAX)
}

impl From<Issued> for AuthPayload {
    fn from(i: Issued) -> Self {
        Self {
            access_token: i.access_token,
            refresh_token: i.refresh_token.into_inner(),
            token_type: "Bearer".to_owned(),
            expires_in: seconds(i.expires_in),
            refresh_expires_in: seconds(i.refresh_expires_in),
            user_ref: i.user,
        }
    }
}

/// A signed-in device or browser: one login and the refreshes that followed it.
#[derive(SimpleObject)]
pub struct Session {
    /// Stable identifier (a UUID), for `revokeSession`.
    pub id: ID,
    /// When the user signed in.
    pub created_at: DateTime<Utc>,
    /// When the session was last refreshed.
    pub last_used_at: DateTime<Utc>,
    /// When the session ends unless refreshed before (it never outlives its maximum age).
    pub expires_at: DateTime<Utc>,
    /// The browser or app that signed in, as it described itself.
    pub user_agent: Option<String>,
    /// The client address it signed in from.
    pub ip: Option<String>,
    /// Whether this is the session of the token making this request.
    pub current: bool,
    /// How its user signed in, as RFC 8176 `amr` values: `["pwd"]` for a password,
    /// `["pwd", "otp", "mfa"]` for a password and a one-time code. Access tokens of the
    /// session carry the same in `amr`.
    pub auth_methods: Vec<String>,
}

impl From<SessionInfo> for Session {
    fn from(s: SessionInfo) -> Self {
        Self {
            id: ID(s.id.to_string()),
            created_at: s.created_at,
            last_used_at: s.last_used_at,
            expires_at: s.expires_at,
            user_agent: s.user_agent,
            ip: s.ip,
            current: s.current,
            auth_methods: s
                .auth_methods
                .amr()
                .iter()
                .map(|m| (*m).to_owned())
                .collect(),
        }
    }
}

/// A new account.
#[derive(InputObject)]
pub struct SignUpInput {
    /// 3–32 letters, digits and `_ . -`.
    pub username: String,
    /// Where the verification mail goes.
    pub email: String,
    /// 8–128 characters, not a common password, not the username or email.
    pub password: String,
}

/// The proof `reauthenticate` renews a session's sign-in with.
#[derive(InputObject)]
pub struct ReauthenticateInput {
    /// The account's password.
    pub password: Option<String>,
    /// A current TOTP code or an unused recovery code, when the account has a second
    /// factor.
    pub code: Option<String>,
}

/// Credentials to sign in with.
#[derive(InputObject)]
pub struct LoginInput {
    /// The username or the email address, in any case.
    pub username_or_email: String,
    /// The password, exactly as set.
    pub password: String,
}

/// One user in a page of users.
#[derive(SimpleObject)]
pub struct UserEdge {
    /// Pass as `after` to continue after this user.
    pub cursor: String,
    /// The user.
    pub node: User,
}

/// Where a page ends.
#[derive(SimpleObject)]
pub struct PageInfo {
    /// Whether more users follow.
    pub has_next_page: bool,
    /// The cursor of the last user of this page.
    pub end_cursor: Option<String>,
}

/// A page of users, in a stable order.
#[derive(SimpleObject)]
pub struct UserConnection {
    /// The users of this page, in order.
    pub edges: Vec<UserEdge>,
    /// Whether there is a next page, and where it starts.
    pub page_info: PageInfo,
    /// How many users match, over all pages.
    pub total_count: i32,
}

/// Changes to one's own account and profile; fields left out stay as they are.
#[derive(InputObject)]
pub struct UpdateProfileInput {
    /// 3–32 letters, digits and `_ . -`; unique regardless of case.
    pub username: Option<String>,
    /// At most 150 characters.
    pub first_name: Option<String>,
    /// At most 150 characters.
    pub last_name: Option<String>,
    /// At most 1000 characters; line breaks are kept.
    pub bio: Option<String>,
    /// One line of at most 200 characters.
    pub contact: Option<String>,
}

/// An administrator's changes to an account; fields left out stay as they are.
#[derive(InputObject)]
pub struct AdminUpdateUserInput {
    /// 3–32 characters: letters, digits and `_ . -`; unique case-insensitively.
    pub username: Option<String>,
    /// A new address is unverified unless `emailVerified` is given too.
    pub email: Option<String>,
    /// At most 150 characters.
    pub first_name: Option<String>,
    /// At most 150 characters.
    pub last_name: Option<String>,
    /// Grants or withdraws administration.
    pub is_admin: Option<bool>,
    /// `false` also ends every session of the user.
    pub is_active: Option<bool>,
    /// Marks the address as proven (or not).
    pub email_verified: Option<bool>,
}

impl From<AdminUpdateUserInput> for AccountChanges {
    fn from(input: AdminUpdateUserInput) -> Self {
        Self {
            username: input.username,
            email: input.email,
            first_name: input.first_name,
            last_name: input.last_name,
            is_admin: input.is_admin,
            is_active: input.is_active,
            email_verified: input.email_verified,
        }
    }
}
