//! GraphQL object types: their own structs, mapped from service results.

use async_graphql::SimpleObject;

use crate::service::profiles::PublicProfile;

/// The public face of an account: what anyone may see.
#[derive(SimpleObject)]
pub struct Profile {
    /// The account's username, in the case its owner chose.
    pub username: String,
    /// A short text the user wrote about themselves.
    pub bio: String,
    /// How to reach the user, as they chose to publish it.
    pub contact: String,
}

impl From<PublicProfile> for Profile {
    fn from(p: PublicProfile) -> Self {
        Self {
            username: p.username,
            bio: p.bio,
            contact: p.contact,
        }
    }
}
