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
// github.com/alexedwards/scs/pgxstore. It differs from pgxstore in two ways
// that matter here: every call takes the request's context, so a hung
// database cannot hold a request past its budget (pgxstore uses
// context.Background), and it goes through DB.Read with its retries.
type SessionStore struct {
	db *DB
	// TouchInterval coalesces idle-timeout renewals: a session whose data
	// did not change is written again only when its expiry moves by more
	// than this, instead of on every request.
	TouchInterval time.Duration
}

// NewSessionStore returns a store on d.
func NewSessionStore(d *DB) *SessionStore {
	return &SessionStore{db: d, TouchInterval: time.Minute}
}

type sessionMemoKey struct{}

// sessionMemo remembers what FindCtx read, so CommitCtx can skip a write
// that would change nothing but a few seconds of expiry.
type sessionMemo struct {
	mu     sync.Mutex
	token  string
	data   []byte
	expiry time.Time
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
		m.mu.Lock()
		m.token, m.data, m.expiry = token, row.Data, row.Expiry
		m.mu.Unlock()
	}
	return row.Data, true, nil
}

// CommitCtx saves the session data, unless only its expiry moved and by
// less than TouchInterval.
func (s *SessionStore) CommitCtx(ctx context.Context, token string, b []byte, expiry time.Time) error {
	if m := memoFrom(ctx); m != nil {
		m.mu.Lock()
		same := m.token == token && bytes.Equal(m.data, b) &&
			!expiry.Before(m.expiry) && expiry.Sub(m.expiry) < s.TouchInterval
		m.mu.Unlock()
		if same {
			return nil
		}
	}
	// An upsert of the same values is idempotent, so a commit lost in
	// flight may be repeated.
	return s.db.InTxIdempotent(ctx, func(ctx context.Context, q *Queries) error {
		return q.CommitSession(ctx, CommitSessionParams{Token: token, Data: b, Expiry: expiry})
	})
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
