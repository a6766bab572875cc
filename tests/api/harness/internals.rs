//! What a test arranges behind the API's back, because the API cannot: an administrator
//! (as `authql create-admin` makes one), the service's clock moved forward, and a held
//! sign-up counter row that makes concurrent sign-ups queue.

use super::{
    app::TestApp,
    client::{PASSWORD, Tokens},
};

impl TestApp {
    /// Holds the sign-up counter row of `ip` in an open transaction: every sign-up from that
    /// address waits on it (the row lock on PostgreSQL, the write lock on SQLite) until the
    /// transaction ends.
    pub async fn hold_signups_from(&self, ip: &str) -> sea_orm::DatabaseTransaction {
        use sea_orm::{ConnectionTrait, Statement, TransactionTrait};
        let txn = self.db.begin().await.expect("a transaction");
        txn.execute_raw(Statement::from_sql_and_values(
            txn.get_database_backend(),
            "INSERT INTO rate_counters (key, hits, window_start) VALUES ($1, 0, $2)",
            [format!("signup:{ip}").into(), chrono::Utc::now().into()],
        ))
        .await
        .expect("the counter row held");
        txn
    }

    /// Moves the service's clock forward (expiry without waiting).
    pub fn advance(&self, by: std::time::Duration) {
        self.state.clock.advance(by);
    }

    /// Creates (through the library, as `authql create-admin` does) and logs in an
    /// administrator.
    pub async fn admin(&self, username: &str) -> Tokens {
        authql::service::bootstrap::create_admin(
            &self.db,
            &self.state.hasher,
            username,
            &format!("{username}@example.com"),
            authql::service::bootstrap::Existing::Refuse,
            || Ok(PASSWORD.to_owned()),
        )
        .await
        .expect("an administrator");
        self.login_ok(username, PASSWORD).await
    }
}
