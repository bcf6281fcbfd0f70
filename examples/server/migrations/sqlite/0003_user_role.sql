-- The role stored with each user: 'user', or 'admin' for those who may call `GET /admin` (its
-- `RequireLayer` asks the user the login layer loaded). Given by hand, e.g.
-- UPDATE users SET role = 'admin' WHERE username = 'ada';
ALTER TABLE users ADD COLUMN role TEXT NOT NULL DEFAULT 'user';
