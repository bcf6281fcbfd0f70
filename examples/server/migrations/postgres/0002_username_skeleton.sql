-- The Unicode TR39 confusable skeleton of each username (src/username.rs): look-alikes such as
-- "аda" (Cyrillic а) and "ada" share one, and the unique index refuses the second. NULL for the
-- users registered before this migration until the server fills it in at start (SQL cannot
-- compute it); NULLs do not collide.
ALTER TABLE users ADD COLUMN username_skeleton TEXT;
CREATE UNIQUE INDEX users_username_skeleton ON users (username_skeleton);
