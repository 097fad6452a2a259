//! The migrations, compiled in: a deployed binary needs no migrations folder beside it.

use std::borrow::Cow;

use sqlx::SqlSafeStr;
use sqlx::migrate::{Migration, MigrationType, Migrator};

use super::Dialect;

/// (version, description, SQLite text, PostgreSQL text): the same versions in both dialects.
const MIGRATIONS: &[(i64, &str, &str, &str)] = &[
    (
        1,
        "ledger",
        include_str!("../../migrations/sqlite/0001_ledger.sql"),
        include_str!("../../migrations/postgres/0001_ledger.sql"),
    ),
    (
        2,
        "notifications",
        include_str!("../../migrations/sqlite/0002_notifications.sql"),
        include_str!("../../migrations/postgres/0002_notifications.sql"),
    ),
];

/// Every migration for `dialect`, up to and including `upto` (all when `None`).
pub fn migrator(dialect: Dialect, upto: Option<i64>) -> Migrator {
    let migrations = MIGRATIONS
        .iter()
        .filter(|(v, ..)| upto.is_none_or(|u| *v <= u))
        .map(|(version, description, sqlite, postgres)| {
            let sql = match dialect {
                Dialect::Sqlite => *sqlite,
                Dialect::Postgres => *postgres,
            };
            Migration::new(
                *version,
                Cow::Borrowed(*description),
                MigrationType::Simple,
                sql.into_sql_str(),
                false,
            )
        })
        .collect();
    Migrator::with_migrations(migrations)
}

/// The versions suture knows, oldest first.
pub fn versions() -> Vec<i64> {
    MIGRATIONS.iter().map(|(v, ..)| *v).collect()
}
