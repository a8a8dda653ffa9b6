package db_test

import (
	"context"
	"encoding/binary"
	"testing"
	"time"

	"hris/db"
	"hris/db/dbtest"
)

// The session lookup reads the session's user in the same query, fresh
// every time: deactivation, role changes and deletion show on the next
// lookup, and a row saved without user_id gets one on its next save.
func TestSessionStoreReadsTheCurrentUser(t *testing.T) {
	ctx := context.Background()
	d := dbtest.Open(t)
	store := db.NewSessionStore(d)
	// Test data is the user id as 8 bytes; empty data has no user.
	store.UserOf = func(b []byte) (int64, bool) {
		if len(b) != 8 {
			return 0, false
		}
		return int64(binary.BigEndian.Uint64(b)), true
	}
	var user db.User
	err := d.InTx(ctx, func(ctx context.Context, q *db.Queries) (err error) {
		user, err = q.CreateUser(ctx, db.CreateUserParams{Email: "ann@example.com", Name: "Ann", PasswordHash: "x", Role: "hr"})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	data := binary.BigEndian.AppendUint64(nil, uint64(user.ID))
	expiry := time.Now().Add(time.Hour).Round(time.Microsecond)
	if err := store.CommitCtx(ctx, "tok", data, expiry); err != nil {
		t.Fatal(err)
	}
	find := func() (context.Context, db.SessionUserRow, bool) {
		t.Helper()
		ctx := db.WithSessionMemo(context.Background())
		if _, found, err := store.FindCtx(ctx, "tok"); err != nil || !found {
			t.Fatalf("FindCtx: found %v, %v", found, err)
		}
		u, ok := db.SessionUserOf(ctx, user.ID)
		return ctx, u, ok
	}
	_, u, ok := find()
	if !ok || u.ID != user.ID || u.Name != "Ann" || u.Role != "hr" || !u.IsActive {
		t.Fatalf("user read with the session = %+v, %v", u, ok)
	}
	ctx2 := db.WithSessionMemo(context.Background())
	_, _, _ = store.FindCtx(ctx2, "tok")
	if _, ok := db.SessionUserOf(ctx2, user.ID+1); ok {
		t.Fatal("SessionUserOf answered for another user id")
	}

	if _, err := d.Pool.Exec(ctx, "UPDATE users SET is_active = false, role = 'admin' WHERE id = $1", user.ID); err != nil {
		t.Fatal(err)
	}
	if _, u, ok = find(); !ok || u.IsActive || u.Role != "admin" {
		t.Fatalf("after deactivation and a role change: %+v, %v", u, ok)
	}
	if _, err := d.Pool.Exec(ctx, "DELETE FROM users WHERE id = $1", user.ID); err != nil {
		t.Fatal(err)
	}
	if _, _, ok = find(); ok {
		t.Fatal("a deleted user was still read with the session")
	}

	// A row from before the user_id column: found without its user, and
	// given one by the next save even though nothing else changed.
	if _, err := d.Pool.Exec(ctx, "UPDATE sessions SET user_id = NULL WHERE token = 'tok'"); err != nil {
		t.Fatal(err)
	}
	mctx, _, _ := find()
	if err := store.CommitCtx(mctx, "tok", data, expiry); err != nil {
		t.Fatal(err)
	}
	var col *int64
	if err := d.Pool.QueryRow(ctx, "SELECT user_id FROM sessions WHERE token = 'tok'").Scan(&col); err != nil {
		t.Fatal(err)
	}
	if col == nil || *col != user.ID {
		t.Fatalf("user_id after the save = %v, want %d", col, user.ID)
	}
}
