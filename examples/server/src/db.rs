//! The `users` table: migrations, queries, and the [`UserLoader`] the login layer asks.
//!
//! Everything goes through sqlx's `Any` driver, so the same queries run on SQLite (the default,
//! embedded: no system library needed) and on PostgreSQL. Only the table definition differs
//! (how an auto-incremented id is spelled), so each database has its own migrations; the queries
//! use `$1` placeholders, which both understand, and `RETURNING`, which both have.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use serde::Serialize;
use sqlx::any::AnyPoolOptions;
use sqlx::error::BoxDynError;
use sqlx::migrate::{Migration, MigrationSource, MigrationType, Migrator};
use sqlx::{AnyConnection, AnyPool, Connection};
use tower_login_manager::{BoxError, CachedLoader, UserLoader};

use crate::username::skeleton;

/// How long a request waits for a database connection, and for a query (a lock waited for
/// included: PostgreSQL's `statement_timeout`; SQLite's `busy_timeout` is sqlx's 5 s), before it
/// is answered 500: well within the server's request timeout, so a stalled database is a failure
/// the routes see (a login's attempt is then taken back), not a request cut off.
const DATABASE_WAIT: Duration = Duration::from_secs(5);

/// One migration, embedded in the binary so that the server runs from any directory.
#[derive(Debug)]
struct Embedded {
    version: i64,
    description: &'static str,
    sql: &'static str,
}

const SQLITE_MIGRATIONS: &[Embedded] = &[
    Embedded {
        version: 1,
        description: "create users",
        sql: include_str!("../migrations/sqlite/0001_create_users.sql"),
    },
    Embedded {
        version: 2,
        description: "username skeleton",
        sql: include_str!("../migrations/sqlite/0002_username_skeleton.sql"),
    },
    Embedded {
        version: 3,
        description: "user role",
        sql: include_str!("../migrations/sqlite/0003_user_role.sql"),
    },
];

const POSTGRES_MIGRATIONS: &[Embedded] = &[
    Embedded {
        version: 1,
        description: "create users",
        sql: include_str!("../migrations/postgres/0001_create_users.sql"),
    },
    Embedded {
        version: 2,
        description: "username skeleton",
        sql: include_str!("../migrations/postgres/0002_username_skeleton.sql"),
    },
    Embedded {
        version: 3,
        description: "user role",
        sql: include_str!("../migrations/postgres/0003_user_role.sql"),
    },
];

/// The migrations of one database, as a source for sqlx's [`Migrator`] (which records them in
/// `_sqlx_migrations` and applies each once).
#[derive(Debug)]
struct EmbeddedMigrations(&'static [Embedded]);

impl MigrationSource<'static> for EmbeddedMigrations {
    fn resolve(
        self,
    ) -> Pin<Box<dyn Future<Output = Result<Vec<Migration>, BoxDynError>> + Send + 'static>> {
        let migrations = self
            .0
            .iter()
            .map(|m| {
                Migration::new(
                    m.version,
                    m.description.into(),
                    MigrationType::Simple,
                    m.sql.into(),
                    false,
                )
            })
            .collect();
        Box::pin(async move { Ok(migrations) })
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    fn from_url(url: &str) -> Result<Self, String> {
        let scheme = url.split_once(':').map_or("", |(scheme, _)| scheme);
        match scheme {
            "sqlite" => Ok(Self::Sqlite),
            "postgres" | "postgresql" => Ok(Self::Postgres),
            _ => Err(
                "DATABASE_URL must start with sqlite:// or postgres:// (for example \
                 sqlite://users.db?mode=rwc)"
                    .to_owned(),
            ),
        }
    }

    fn migrations(self) -> &'static [Embedded] {
        match self {
            Self::Sqlite => SQLITE_MIGRATIONS,
            Self::Postgres => POSTGRES_MIGRATIONS,
        }
    }
}

/// The connection pool, migrated.
pub struct Database {
    pool: AnyPool,
    backend: Backend,
    /// What to print at start: the SQLite URL, or only "PostgreSQL" (its URL may hold a password).
    description: String,
}

impl Database {
    /// Connects to `url` and applies the migrations that have not been applied yet.
    pub async fn connect(url: &str) -> Result<Self, String> {
        let backend = Backend::from_url(url)?;
        sqlx::any::install_default_drivers();
        let description = match backend {
            Backend::Sqlite => url.to_owned(),
            Backend::Postgres => "PostgreSQL (from DATABASE_URL)".to_owned(),
        };
        let cannot_open = |error| format!("cannot open the database {description}: {error}");
        // One connection first, whose error says why (refused, wrong password), where the pool
        // would retry until its timeout and then say only that it timed out; bounded, for a
        // server that takes the connection and never answers.
        let mut connection = tokio::time::timeout(DATABASE_WAIT, AnyConnection::connect(url))
            .await
            .map_err(|_| {
                let secs = DATABASE_WAIT.as_secs();
                format!("cannot open the database {description}: no answer within {secs} s")
            })?
            .map_err(cannot_open)?;
        // On this connection, without the pool's query timeout: another instance may hold the
        // migration lock for as long as its migrations take.
        let migrator = Migrator::new(EmbeddedMigrations(backend.migrations()))
            .await
            .map_err(|error| format!("cannot read the migrations: {error}"))?;
        migrator
            .run(&mut connection)
            .await
            .map_err(|error| format!("cannot migrate the database {description}: {error}"))?;
        let pool = AnyPoolOptions::new()
            .max_connections(5)
            // Always one connection open: a shared in-memory SQLite database lives as long as
            // one does.
            .min_connections(1)
            // sqlx's default is 30 s: during an outage, clients are answered rather than kept
            // waiting.
            .acquire_timeout(DATABASE_WAIT)
            .after_connect(move |connection, _| {
                Box::pin(async move {
                    if backend == Backend::Postgres {
                        let timeout =
                            format!("SET statement_timeout = {}", DATABASE_WAIT.as_millis());
                        sqlx::query(&timeout).execute(connection).await?;
                    }
                    Ok(())
                })
            })
            .connect(url)
            .await
            .map_err(cannot_open)?;
        // Closed once the pool has one of its own, for the same reason.
        connection.close().await.map_err(cannot_open)?;
        fill_skeletons(&pool)
            .await
            .map_err(|error| format!("cannot fill in the username skeletons: {error}"))?;
        Ok(Self {
            pool,
            backend,
            description,
        })
    }

    pub fn describe(&self) -> String {
        match self.backend {
            Backend::Sqlite => format!("SQLite, {}", self.description),
            Backend::Postgres => self.description.clone(),
        }
    }

    pub fn users(&self) -> Users {
        Users {
            pool: self.pool.clone(),
        }
    }

    /// Waits for the connections to be returned and closes them (SQLite then folds its
    /// write-ahead log back into the database file).
    pub async fn close(self) {
        self.pool.close().await;
    }
}

/// Stores the skeleton of each user registered before skeletons were (migration 2). A user whose
/// skeleton an earlier user already has (a look-alike registered before they were refused) keeps
/// none, and is told of in the log by id: both accounts go on working.
async fn fill_skeletons(pool: &AnyPool) -> Result<(), sqlx::Error> {
    let missing = sqlx::query_as::<_, (i64, String)>(
        "SELECT id, username FROM users WHERE username_skeleton IS NULL ORDER BY id",
    )
    .fetch_all(pool)
    .await?;
    for (id, username) in missing {
        let filled = sqlx::query(
            "UPDATE users SET username_skeleton = $1 WHERE id = $2 AND username_skeleton IS NULL",
        )
        .bind(skeleton(&username))
        .bind(id)
        .execute(pool)
        .await;
        match filled {
            Ok(_) => {}
            Err(sqlx::Error::Database(error)) if error.is_unique_violation() => eprintln!(
                "warning: user {id}'s name looks like an earlier user's (same TR39 skeleton); \
                 both accounts are kept"
            ),
            Err(error) => return Err(error),
        }
    }
    Ok(())
}

/// A registered user, as `/register` and `/me` show it and as the login layer puts it into the
/// request's extensions.
#[derive(Clone, Debug, Serialize)]
pub struct User {
    pub id: i64,
    pub username: String,
    /// The role stored with the user is `admin` (migration 0003): `GET /admin` lets them in.
    #[serde(skip)]
    pub admin: bool,
}

impl User {
    /// The user of a row `(id, username, role)`.
    fn from_row((id, username, role): (i64, String, String)) -> Self {
        Self {
            id,
            username,
            admin: role == "admin",
        }
    }
}

/// Why a user could not be created.
#[derive(Debug)]
pub enum CreateError {
    /// The username, or a look-alike of it, is taken (a `UNIQUE` constraint said so: no
    /// check-then-insert race).
    Taken,
    Database(sqlx::Error),
}

/// The `users` table.
#[derive(Clone, Debug)]
pub struct Users {
    pool: AnyPool,
}

impl Users {
    /// Inserts a user, with the skeleton of their name; ids are given by the database in
    /// registration order.
    pub async fn create(&self, username: &str, password_hash: &str) -> Result<User, CreateError> {
        let inserted = sqlx::query_scalar::<_, i64>(
            "INSERT INTO users (username, username_skeleton, password_hash) VALUES ($1, $2, $3) \
             RETURNING id",
        )
        .bind(username)
        .bind(skeleton(username))
        .bind(password_hash)
        .fetch_one(&self.pool)
        .await;
        match inserted {
            Ok(id) => Ok(User {
                id,
                username: username.to_owned(),
                admin: false,
            }),
            Err(sqlx::Error::Database(error)) if error.is_unique_violation() => {
                Err(CreateError::Taken)
            }
            Err(error) => Err(CreateError::Database(error)),
        }
    }

    /// The user with this username and their password hash (a PHC string).
    pub async fn find_with_hash(
        &self,
        username: &str,
    ) -> Result<Option<(User, String)>, sqlx::Error> {
        let row = sqlx::query_as::<_, (i64, String, String, String)>(
            "SELECT id, username, role, password_hash FROM users WHERE username = $1",
        )
        .bind(username)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(|(id, username, role, hash)| (User::from_row((id, username, role)), hash)))
    }

    /// The user with this id.
    pub async fn find_by_id(&self, id: i64) -> Result<Option<User>, sqlx::Error> {
        let row = sqlx::query_as::<_, (i64, String, String)>(
            "SELECT id, username, role FROM users WHERE id = $1",
        )
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(User::from_row))
    }

    /// Replaces the password hash of the user with this id (`POST /password`).
    pub async fn set_password_hash(&self, id: i64, password_hash: &str) -> Result<(), sqlx::Error> {
        sqlx::query("UPDATE users SET password_hash = $1 WHERE id = $2")
            .bind(password_hash)
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }
}

/// The login layer's user loader: the `@login_manager.user_loader` of the Flask original.
///
/// A token's user id that is not a number names no user (401 "User not found"); a database
/// failure is a 500, never a 401.
impl UserLoader for Users {
    type User = User;
    type Error = sqlx::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Option<User>, sqlx::Error>> + Send>>;

    fn load_user(&self, user_id: &str) -> Self::Future {
        let users = self.clone();
        let id = user_id.parse::<i64>().ok();
        Box::pin(async move {
            match id {
                Some(id) => users.find_by_id(id).await,
                None => Ok(None),
            }
        })
    }
}

/// The login layers' loader: [`Users`] itself, one query per request as in the Flask original, or
/// behind a [`CachedLoader`] when `USER_CACHE_SECS` is set.
#[derive(Clone, Debug)]
pub enum Loader {
    Direct(Users),
    Cached(CachedLoader<Users>),
}

impl UserLoader for Loader {
    type User = User;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<Option<User>, BoxError>> + Send>>;

    fn load_user(&self, user_id: &str) -> Self::Future {
        match self {
            Loader::Direct(users) => {
                let load = users.load_user(user_id);
                Box::pin(async move { load.await.map_err(BoxError::from) })
            }
            Loader::Cached(cache) => Box::pin(cache.load_user(user_id)),
        }
    }
}
