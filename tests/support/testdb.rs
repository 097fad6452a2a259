//! A ledger for one test: a SQLite file in a tempdir, or a fresh database on the real PostgreSQL
//! at 127.0.0.1:5432 (`SUTURE_TEST_POSTGRES_URL` points elsewhere), dropped at teardown even
//! when the test fails. A missing PostgreSQL fails the test, never skips it.

use suture::ledger::Ledger;

fn admin_url() -> String {
    std::env::var("SUTURE_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into())
}

pub struct TestDb {
    pub ledger: Ledger,
    /// The ledger's URL, for a second connection (a `suture serve` under test, the CLI).
    /// Not every test binary that includes this file opens one.
    #[allow(dead_code)]
    pub url: String,
    cleanup: Cleanup,
}

enum Cleanup {
    Sqlite(#[allow(dead_code)] tempfile::TempDir),
    Postgres { admin: String, name: String },
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let Cleanup::Postgres { admin, name } = &self.cleanup {
            let (admin, name) = (admin.clone(), name.clone());
            // Drop runs inside the test's runtime; the teardown needs its own.
            let done = std::thread::spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("teardown runtime");
                rt.block_on(async move {
                    let admin = Ledger::connect(&admin).await.expect("admin connection");
                    let sql = format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)");
                    sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
                        .execute(admin.pool())
                        .await
                        .expect("drop test database");
                    admin.close().await;
                })
            })
            .join();
            if done.is_err() && !std::thread::panicking() {
                panic!("test database teardown failed");
            }
        }
    }
}

pub async fn sqlite_db() -> TestDb {
    let dir = tempfile::tempdir().expect("tempdir");
    let url = format!("sqlite://{}", dir.path().join("suture.db").display());
    let ledger = Ledger::open(&url).await.expect("open sqlite");
    TestDb {
        ledger,
        url,
        cleanup: Cleanup::Sqlite(dir),
    }
}

pub async fn postgres_db() -> TestDb {
    let admin = admin_url();
    let name = format!("suture_test_{}", uuid::Uuid::new_v4().simple());
    let conn = Ledger::connect(&admin)
        .await
        .unwrap_or_else(|e| panic!("PostgreSQL at {admin} is required by these tests: {e}"));
    let sql = format!("CREATE DATABASE \"{name}\"");
    sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
        .execute(conn.pool())
        .await
        .expect("create test database");
    conn.close().await;
    let base = admin.rsplit_once('/').map_or(admin.as_str(), |(b, _)| b);
    let url = format!("{base}/{name}");
    let ledger = Ledger::open(&url)
        .await
        .expect("connect and migrate test database");
    TestDb {
        ledger,
        url,
        cleanup: Cleanup::Postgres { admin, name },
    }
}
