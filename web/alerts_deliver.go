package web

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"hris/db"
)

// Delivery: the instance holding the "alerts" lease sends the stored
// transitions to HRIS_ALERT_WEBHOOK_URL, oldest first, one at a time:
// claim one (so a second sender cannot take it at the same moment), POST
// it with a bounded timeout, record the outcome. A failure is tried again
// with exponential backoff, and the ones after it wait (they go to the
// same receiver, and a resolved must not overtake its firing). The sender
// runs on its own goroutine and holds no database connection while it
// waits for the receiver, so a slow or failing receiver delays neither the
// evaluation nor a page.
//
// A holder that dies between the POST and the record leaves its claim to
// expire, and the next holder sends that transition again: a receiver may
// see one message twice in that case, never none. The Idempotency-Key
// header (the same on every attempt) lets it tell.

// webhookClient POSTs alert messages to the webhook.
type webhookClient struct {
	url     string
	version string
	cfg     AlertConfig
	hc      *http.Client
}

func newWebhookClient(c AlertConfig, version string) *webhookClient {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.DialContext = (&net.Dialer{Timeout: c.WebhookTimeout, KeepAlive: 30 * time.Second}).DialContext
	tr.TLSHandshakeTimeout = c.WebhookTimeout
	tr.ResponseHeaderTimeout = c.WebhookTimeout
	tr.MaxIdleConnsPerHost = 2
	if version == "" {
		version = "dev"
	}
	return &webhookClient{
		url: c.WebhookURL, version: version, cfg: c,
		hc: &http.Client{
			Transport: tr,
			Timeout:   c.WebhookTimeout,
			// A webhook that redirects is misconfigured; following it
			// would turn the POST into a GET.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
	}
}

// deliveryError is a failed attempt: what went wrong (for people: never
// the URL, which may hold a token), whether trying again can help, and
// how long the receiver asked us to wait.
type deliveryError struct {
	msg        string
	permanent  bool
	retryAfter time.Duration
}

func (e *deliveryError) Error() string { return e.msg }

// send POSTs one message; nil when the receiver answered 2xx.
func (w *webhookClient) send(ctx context.Context, body []byte, key string) error {
	ctx, cancel := context.WithTimeout(ctx, w.cfg.WebhookTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.url, bytes.NewReader(body))
	if err != nil {
		return &deliveryError{msg: "bad HRIS_ALERT_WEBHOOK_URL: " + err.Error(), permanent: true}
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "hris/"+w.version)
	req.Header.Set("Idempotency-Key", key)
	start := time.Now()
	resp, err := w.hc.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // without the URL
		}
		if errors.Is(err, context.DeadlineExceeded) || isTimeout(err) {
			return &deliveryError{msg: fmt.Sprintf("no answer within %s", spanWords(w.cfg.WebhookTimeout))}
		}
		return &deliveryError{msg: err.Error()}
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	code := resp.StatusCode
	switch {
	case code >= 200 && code < 300:
		return nil
	case code == http.StatusRequestTimeout, code == http.StatusTooEarly, code == http.StatusTooManyRequests, code >= 500:
		return &deliveryError{
			msg:        fmt.Sprintf("HTTP %d %s after %s", code, http.StatusText(code), spanWords(time.Since(start))),
			retryAfter: retryAfter(resp.Header.Get("Retry-After")),
		}
	}
	// 3xx and the other 4xx: the receiver refuses this message; sending it
	// again would be refused again.
	return &deliveryError{msg: fmt.Sprintf("HTTP %d %s: refused by the receiver, not retried", code, http.StatusText(code)), permanent: true}
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// retryAfter reads a Retry-After header in seconds (dates are ignored).
func retryAfter(h string) time.Duration {
	n, err := strconv.Atoi(h)
	if err != nil || n < 0 {
		return 0
	}
	return time.Duration(n) * time.Second
}

// backoff is the wait before attempt n+1 after n failed ones: RetryBase
// doubled each time, up to RetryMax, with up to 20 % jitter so that a
// fleet's retries do not line up; at least what the receiver asked for.
func (c AlertConfig) backoff(attempts int, err error) time.Duration {
	d := c.RetryBase
	for i := 1; i < attempts && d < c.RetryMax; i++ {
		d *= 2
	}
	d = min(d, c.RetryMax)
	d += time.Duration(rand.Int64N(int64(d)/5 + 1))
	var de *deliveryError
	if errors.As(err, &de) && de.retryAfter > d {
		d = min(de.retryAfter, c.RetryMax)
	}
	return d
}

// claimFor is how long a sender owns a transition it is sending: an
// attempt's timeout and the time to record its outcome, so only a sender
// that died loses it (and the queue waits that long behind it).
func (c AlertConfig) claimFor() time.Duration { return c.WebhookTimeout + 5*time.Second }

// deliverAlerts sends stored transitions while this instance holds the
// alerts lease, until ctx ends. A round's end, a stored transition or a
// backoff's end wakes it.
func (a *App) deliverAlerts(ctx context.Context) {
	al := a.alerts
	timer := time.NewTimer(a.cfg.Alerts.Interval)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-al.wake:
		case <-timer.C:
		}
		timer.Reset(a.deliverDue(ctx))
	}
}

// deliverDue sends what is due and says how long to wait before looking
// again.
func (a *App) deliverDue(ctx context.Context) time.Duration {
	al, c := a.alerts, a.cfg.Alerts
	if !al.holding() {
		return c.Interval
	}
	if al.client == nil {
		// No webhook: what is pending is history only.
		err := a.alertTx(ctx, func(ctx context.Context, q *db.Queries) error {
			_, err := q.MarkAlertsUnsent(ctx, "HRIS_ALERT_WEBHOOK_URL is not set")
			return err
		})
		if err != nil && ctx.Err() == nil {
			a.log.Warn("alerts: could not mark transitions unsent", "err", err)
		}
		return c.Interval
	}
	for ctx.Err() == nil && al.holding() {
		var t db.ClaimAlertTransitionRow
		err := a.alertTx(ctx, func(ctx context.Context, q *db.Queries) (err error) {
			t, err = q.ClaimAlertTransition(ctx, db.ClaimAlertTransitionParams{Instance: a.cfg.InstanceID, ClaimSeconds: c.claimFor().Seconds()})
			return err
		})
		if errors.Is(err, db.ErrNotFound) {
			return a.nextDelivery(ctx)
		}
		if err != nil {
			if ctx.Err() == nil {
				a.log.Warn("alerts: cannot claim a transition to send", "err", err)
			}
			return c.Interval
		}
		if secondsDuration(t.AgeSeconds) > c.GiveUpAfter {
			a.finishDelivery(ctx, t, &deliveryError{msg: "not delivered within " + spanWords(c.GiveUpAfter) + ": given up", permanent: true})
			continue
		}
		err = al.client.send(ctx, t.Body, "hris-alert-"+strconv.FormatInt(t.ID, 10))
		if wait := a.finishDelivery(ctx, t, err); wait > 0 {
			return wait
		}
	}
	return c.Interval
}

// finishDelivery records an attempt's outcome; it returns the backoff
// before the next attempt when this one failed and will be tried again.
func (a *App) finishDelivery(ctx context.Context, t db.ClaimAlertTransitionRow, sendErr error) time.Duration {
	c := a.cfg.Alerts
	// The outcome is recorded even as ctx ends (shutdown): a message sent
	// and not marked would be sent again by the next holder.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	var wait time.Duration
	err := a.alertTx(ctx, func(ctx context.Context, q *db.Queries) error {
		if sendErr == nil {
			return q.MarkAlertSent(ctx, db.MarkAlertSentParams{ID: t.ID, Instance: a.cfg.InstanceID})
		}
		p := db.MarkAlertAttemptFailedParams{ID: t.ID, Delivery: "pending", LastError: sendErr.Error()}
		var de *deliveryError
		if errors.As(sendErr, &de) && de.permanent {
			p.Delivery = "failed"
		} else {
			wait = c.backoff(int(t.Attempts), sendErr)
			p.RetrySeconds = wait.Seconds()
		}
		return q.MarkAlertAttemptFailed(ctx, p)
	})
	switch {
	case sendErr == nil:
		a.log.Info("alert sent", "transition", t.ID, "status", t.Status, "severity", t.Severity, "attempts", t.Attempts,
			"after_ms", time.Since(t.At).Milliseconds())
	case wait > 0:
		a.log.Warn("alerts: webhook failed; trying again", "transition", t.ID, "attempts", t.Attempts, "err", sendErr, "retry_in", wait.Round(time.Millisecond))
	default:
		a.log.Error("alerts: webhook refused a message; not retried", "transition", t.ID, "err", sendErr)
	}
	if err != nil {
		a.log.Warn("alerts: delivery outcome not recorded", "transition", t.ID, "err", err)
	}
	return wait
}

// nextDelivery is how long until the head of the outbox may be tried.
func (a *App) nextDelivery(ctx context.Context) time.Duration {
	c := a.cfg.Alerts
	var next db.NextAlertTransitionRow
	err := opsRead(ctx, a.opsDB, func(ctx context.Context, q *db.Queries) (err error) {
		next, err = q.NextAlertTransition(ctx)
		return err
	})
	if err != nil {
		return c.Interval // nothing pending, or we will look next round
	}
	return min(max(secondsDuration(next.WaitSeconds), 20*time.Millisecond), c.Interval)
}
