-- Users of the example server (SQLite). `INTEGER PRIMARY KEY` is the rowid: ids 1, 2, 3, ...
-- in registration order.
CREATE TABLE users (
    id            INTEGER PRIMARY KEY,
    username      TEXT    NOT NULL UNIQUE,
    password_hash TEXT    NOT NULL
);
