-- +goose Up
-- sessions.user_id is the logged-in user of the session, copied from the
-- session data whenever the store saves it (db/sessions.go), so the session
-- lookup can join the current users row and a request learns both in one
-- round trip. The data stays the source of truth: a row whose column
-- disagrees with its data (or predates this column) is read the old way.
-- No foreign key: the join finds a deleted user missing either way, and a
-- key would add a check to every session write.
ALTER TABLE sessions ADD COLUMN user_id bigint;

-- +goose Down
ALTER TABLE sessions DROP COLUMN user_id;
