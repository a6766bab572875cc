//! Pages of users for administrators: in id order (which follows creation), optionally
//! only those whose username or email contains a search term.

use sea_orm::{
    ColumnTrait, Condition, EntityTrait, JoinType, QueryFilter, QuerySelect, RelationTrait,
    sea_query::{Expr, ExprTrait, Func},
};

use uuid::Uuid;

use super::{Conn, Error};
use crate::{
    domain::{Account, profile::ProfileData},
    entity::{profiles, users},
};

fn search_filter(search: Option<&str>) -> Condition {
    match search.map(str::trim).filter(|s| !s.is_empty()) {
        None => Condition::all(),
        Some(term) => {
            let escaped = term
                .to_lowercase()
                .replace('\\', "\\\\")
                .replace('%', "\\%")
                .replace('_', "\\_");
            let pattern = format!("%{escaped}%");
            let like =
                |e: Expr| e.like(sea_orm::sea_query::LikeExpr::new(pattern.clone()).escape('\\'));
            Condition::any()
                .add(like(Expr::expr(Func::lower(Expr::col(
                    users::Column::Username,
                )))))
                .add(like(Expr::col(users::Column::Email)))
        }
    }
}

/// One page of users (with profiles) in id order, after `after`, matching `search` in the
/// username or email; `limit` rows at most.
///
/// # Errors
/// When the query fails.
pub async fn page(
    db: &impl Conn,
    search: Option<&str>,
    after: Option<Uuid>,
    limit: u64,
) -> Result<Vec<(Account, Option<ProfileData>)>, Error> {
    use sea_orm::QueryOrder;
    let mut query = users::Entity::find()
        .join(JoinType::LeftJoin, profiles::Relation::User.def().rev())
        .select_also(profiles::Entity)
        .filter(search_filter(search));
    if let Some(after) = after {
        query = query.filter(users::Column::Id.gt(after));
    }
    let rows = query
        .order_by_asc(users::Column::Id)
        .limit(limit)
        .all(db)
        .await?;
    Ok(rows
        .into_iter()
        .map(|(u, p)| (u.into(), p.map(Into::into)))
        .collect())
}

/// How many users match `search`.
///
/// # Errors
/// When the query fails.
pub async fn count(db: &impl Conn, search: Option<&str>) -> Result<u64, Error> {
    use sea_orm::PaginatorTrait;
    users::Entity::find()
        .filter(search_filter(search))
        .count(db)
        .await
}
