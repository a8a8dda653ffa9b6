package db

import (
	"bytes"
	"context"
	"errors"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
)

// SessionStore is an scs session store on the sessions table of
// github.com/alexedwards/scs/pgxstore. It differs from pgxstore in three
// ways that matter here: every call takes the request's context, so a hung
// database cannot hold a request past its budget (pgxstore uses
// context.Background); it goes through DB.Read with its retries; and it
// reads the session's user in the same query as the session (see UserOf
// and SessionUserOf), saving every request a round trip.
type SessionStore struct {
	db *DB
	// TouchInterval coalesces idle-timeout renewals: a session whose data
	// did not change is written again only when its expiry moves by more
	// than this, instead of on every request.
	TouchInterval time.Duration
	// UserOf reads the logged-in user's id out of session data; the store
	// saves it in sessions.user_id next to the data, so that FindCtx can
	// join the user. Nil, or false: the session has no user.
	UserOf func(data []byte) (id int64, ok bool)
}

// NewSessionStore returns a store on d.
func NewSessionStore(d *DB) *SessionStore {
	return &SessionStore{db: d, TouchInterval: time.Minute}
}

type sessionMemoKey struct{}

// sessionMemo remembers what FindCtx read, so CommitCtx can skip a write
// that would change nothing but a few seconds of expiry, and so the
// request can use the user read with the session.
type sessionMemo struct {
	mu     sync.Mutex
	token  string
	data   []byte
	expiry time.Time
	userID *int64          // the row's user_id column
	user   *SessionUserRow // the user it names, when that user exists
}

// WithSessionMemo prepares ctx for the store's write coalescing; the
// session middleware calls it before loading the session.
func WithSessionMemo(ctx context.Context) context.Context {
	return context.WithValue(ctx, sessionMemoKey{}, &sessionMemo{})
}

func memoFrom(ctx context.Context) *sessionMemo {
	m, _ := ctx.Value(sessionMemoKey{}).(*sessionMemo)
	return m
}

// FindCtx returns the session data for token, if it exists and is unexpired.
func (s *SessionStore) FindCtx(ctx context.Context, token string) ([]byte, bool, error) {
	var row FindSessionRow
	err := s.db.Read(ctx, func(ctx context.Context, q *Queries) (err error) {
		row, err = q.FindSession(ctx, token)
		return err
	})
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	if m := memoFrom(ctx); m != nil {
		var u *SessionUserRow
		if row.FoundUserID != nil {
			u = &SessionUserRow{ID: *row.FoundUserID, Email: deref(row.Email), Name: deref(row.Name),
				Role: deref(row.Role), IsActive: deref(row.IsActive), DepartmentName: row.DepartmentName}
		}
		m.mu.Lock()
		m.token, m.data, m.expiry, m.userID, m.user = token, row.Data, row.Expiry, row.UserID, u
		m.mu.Unlock()
	}
	return row.Data, true, nil
}

// SessionUserOf returns the user that was read with the session of ctx's
// request, if the session row named user id and that user exists: the
// same current row SessionUser would read, without another round trip.
// The caller still checks IsActive. Only the user's id, name, email, role,
// active flag and department name are set.
func SessionUserOf(ctx context.Context, id int64) (SessionUserRow, bool) {
	m := memoFrom(ctx)
	if m == nil {
		return SessionUserRow{}, false
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.user == nil || m.user.ID != id {
		return SessionUserRow{}, false
	}
	return *m.user, true
}

func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}

// CommitCtx saves the session data and its user, unless only the expiry
// moved and by less than TouchInterval.
func (s *SessionStore) CommitCtx(ctx context.Context, token string, b []byte, expiry time.Time) error {
	found := false
	if m := memoFrom(ctx); m != nil {
		m.mu.Lock()
		found = m.token == token
		same := found && bytes.Equal(m.data, b) &&
			!expiry.Before(m.expiry) && expiry.Sub(m.expiry) < s.TouchInterval
		// A row saved before it had a user_id column gets one now. (With
		// the column set, the same data names the same user.)
		same = same && (m.userID != nil || s.userOf(b) == nil)
		m.mu.Unlock()
		if same {
			return nil
		}
	}
	userID := s.userOf(b)
	// Both writes are idempotent, so a commit lost in flight may be
	// repeated. A session this request found is only updated: if a logout
	// deleted it meanwhile, it stays deleted.
	return s.db.InTxIdempotent(ctx, func(ctx context.Context, q *Queries) error {
		if found {
			_, err := q.UpdateSession(ctx, UpdateSessionParams{Token: token, Data: b, Expiry: expiry, UserID: userID})
			return err
		}
		return q.CommitSession(ctx, CommitSessionParams{Token: token, Data: b, Expiry: expiry, UserID: userID})
	})
}

func (s *SessionStore) userOf(b []byte) *int64 {
	if s.UserOf == nil {
		return nil
	}
	if id, ok := s.UserOf(b); ok {
		return &id
	}
	return nil
}

// DeleteCtx removes the session: logout and deactivation end it server-side.
func (s *SessionStore) DeleteCtx(ctx context.Context, token string) error {
	return s.db.InTxIdempotent(ctx, func(ctx context.Context, q *Queries) error {
		return q.DeleteSession(ctx, token)
	})
}

// Find, Commit and Delete satisfy scs.Store; scs calls the Ctx variants.
func (s *SessionStore) Find(token string) ([]byte, bool, error) {
	return s.FindCtx(context.Background(), token)
}

// Commit is CommitCtx without a request.
func (s *SessionStore) Commit(token string, b []byte, expiry time.Time) error {
	return s.CommitCtx(context.Background(), token, b, expiry)
}

// Delete is DeleteCtx without a request.
func (s *SessionStore) Delete(token string) error {
	return s.DeleteCtx(context.Background(), token)
}

// Cleanup deletes expired sessions and stale login-throttle rows every
// interval until ctx ends.
func (s *SessionStore) Cleanup(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		_ = s.db.InTx(ctx, func(ctx context.Context, q *Queries) error {
			if _, err := q.DeleteExpiredSessions(ctx); err != nil {
				return err
			}
			_, err := q.ThrottleCleanup(ctx)
			return err
		})
	}
}
