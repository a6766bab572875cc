//! Rows as the domain values they store: what every query of this folder returns.

use crate::{
    domain::{
        Account, TokenHash,
        profile::ProfileData,
        session::{AuthMethods, Authentication, RefreshToken, Session},
        signing_key::{PrivateKey, SigningKey},
    },
    entity::{profiles, refresh_tokens, sessions, signing_keys, users},
};

impl From<users::Model> for Account {
    fn from(u: users::Model) -> Self {
        Self {
            id: u.id,
            username: u.username,
            email: u.email,
            email_verified: u.email_verified,
            first_name: u.first_name,
            last_name: u.last_name,
            is_admin: u.is_admin,
            is_active: u.is_active,
            created_at: u.created_at,
            last_login_at: u.last_login_at,
        }
    }
}

impl From<profiles::Model> for ProfileData {
    fn from(p: profiles::Model) -> Self {
        Self {
            bio: p.bio,
            contact: p.contact,
            avatar: p.avatar,
        }
    }
}

impl From<sessions::Model> for Session {
    fn from(s: sessions::Model) -> Self {
        Self {
            id: s.id,
            user_id: s.user_id,
            created_at: s.created_at,
            last_used_at: s.last_used_at,
            idle_expires_at: s.idle_expires_at,
            absolute_expires_at: s.absolute_expires_at,
            revoked_at: s.revoked_at,
            user_agent: s.user_agent,
            ip: s.ip,
            authentication: Authentication {
                time: s.auth_time.unwrap_or(s.created_at),
                methods: AuthMethods::from_stored(&s.auth_methods),
            },
        }
    }
}

impl From<refresh_tokens::Model> for RefreshToken {
    fn from(t: refresh_tokens::Model) -> Self {
        Self {
            hash: TokenHash(t.token_hash),
            session_id: t.session_id,
            parent: t.parent_hash.map(TokenHash),
            created_at: t.created_at,
            spent_at: t.spent_at,
            successor_sealed: t.successor_sealed,
        }
    }
}

impl From<signing_keys::Model> for SigningKey {
    fn from(k: signing_keys::Model) -> Self {
        Self {
            kid: k.kid,
            private_key: PrivateKey(k.private_key),
            public_key: k.public_key,
            created_at: k.created_at,
            activates_at: k.activates_at,
            retired_at: k.retired_at,
            revoked_at: k.revoked_at,
        }
    }
}

impl From<SigningKey> for signing_keys::Model {
    fn from(k: SigningKey) -> Self {
        Self {
            kid: k.kid,
            private_key: k.private_key.0,
            public_key: k.public_key,
            created_at: k.created_at,
            activates_at: k.activates_at,
            retired_at: k.retired_at,
            revoked_at: k.revoked_at,
        }
    }
}
