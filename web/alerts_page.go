package web

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"time"

	"hris/db"
	"hris/views/pages"
	"hris/views/partials"
)

// recentAlertRows is how many ended episodes /ops/alerts lists.
const recentAlertRows = 30

// opsAlerts is GET /ops/alerts: what fires now, the notifications, the
// rules with their thresholds, and the latest episodes.
func (a *App) opsAlerts(w http.ResponseWriter, r *http.Request) {
	c := a.cfg.Alerts
	v := pages.OpsAlertsView{
		UpdatedAt: time.Now(), Interval: spanWords(c.Interval), Self: a.cfg.InstanceID,
		Delivery: pages.OpsAlertDelivery{Webhook: webhookHost(c.WebhookURL)},
	}
	var (
		open, recent []pages.OpsAlert
		firing       = map[string]string{}
	)
	err := opsRead(r.Context(), a.opsDB, func(ctx context.Context, q *db.Queries) error {
		openRows, err := q.OpenAlerts(ctx, openAlertRows)
		if err != nil {
			return fmt.Errorf("alerts: open: %w", err)
		}
		recentRows, err := q.ResolvedAlerts(ctx, recentAlertRows)
		if err != nil {
			return fmt.Errorf("alerts: resolved: %w", err)
		}
		ids := make([]int64, 0, len(openRows)+len(recentRows))
		byID := map[int64]*pages.OpsAlert{}
		open, recent = make([]pages.OpsAlert, len(openRows)), make([]pages.OpsAlert, len(recentRows))
		for i, o := range openRows {
			open[i] = pages.OpsAlert{ID: o.ID, Rule: o.Rule, Severity: o.Severity, Summary: o.Summary, Instance: o.Instance,
				Details: o.Details, StartedAt: o.StartedAt, FiredAt: o.FiredAt}
			ids = append(ids, o.ID)
			if sevRank(o.Severity) > sevRank(firing[o.Rule]) {
				firing[o.Rule] = o.Severity
			}
		}
		for i, o := range recentRows {
			recent[i] = pages.OpsAlert{ID: o.ID, Rule: o.Rule, Severity: o.Severity, Summary: o.Summary, Instance: o.Instance,
				Details: o.Details, StartedAt: o.StartedAt, FiredAt: o.FiredAt, ResolvedAt: o.ResolvedAt}
			ids = append(ids, o.ID)
		}
		trans, err := q.AlertTransitionsOf(ctx, ids)
		if err != nil {
			return fmt.Errorf("alerts: transitions: %w", err)
		}
		for i := range open {
			byID[open[i].ID] = &open[i]
		}
		for _, t := range trans {
			tv := pages.OpsAlertTransition{Status: t.Status, Severity: t.Severity, At: t.At, Delivery: t.Delivery,
				Attempts: t.Attempts, LastError: t.LastError, SentAt: t.SentAt, SentBy: t.SentBy}
			if p := byID[t.AlertID]; p != nil {
				p.Transitions = append(p.Transitions, tv)
			}
			for i := range recent {
				if recent[i].ID == t.AlertID {
					recent[i].Transitions = append(recent[i].Transitions, tv)
				}
			}
		}
		ob, err := readOutbox(ctx, q)
		if err != nil {
			return err
		}
		fillOutbox(&v.Delivery, ob)
		last, err := q.LastAlertDelivery(ctx)
		switch {
		case err == nil:
			v.Delivery.Last = &pages.OpsAlertAttempt{At: *last.LastAttemptAt, Rule: last.Rule, Status: last.Status,
				Delivery: last.Delivery, Attempts: last.Attempts, Error: last.LastError, SentBy: last.SentBy}
		case !errors.Is(err, db.ErrNotFound):
			return fmt.Errorf("alerts: last delivery: %w", err)
		}
		holder, err := q.LeaseHolder(ctx, alertLeaseName)
		switch {
		case err == nil && holder.Live:
			v.Evaluator, v.EvaluatorSince = holder.Holder, holder.AcquiredAt
		case err != nil && !errors.Is(err, db.ErrNotFound):
			return fmt.Errorf("alerts: lease: %w", err)
		}
		return nil
	})
	if err != nil {
		v.Error = a.opsError("alerts", err)
	}
	v.Firing, v.Recent = open, recent
	for _, rule := range alertRules {
		v.Rules = append(v.Rules, pages.OpsAlertRule{
			Name: rule.Name, Watches: rule.Watches, Warning: rule.Warning(c), Critical: rule.Critical(c),
			For: spanWords(time.Duration(rule.ForRounds) * c.Interval), Fleet: rule.Fleet, Firing: firing[rule.Name],
		})
	}
	a.render(w, r, http.StatusOK, pages.OpsAlerts(a.page(r, "Alerts", "ops"), v))
}

// outbox is the state of the webhook's queue.
type outbox struct {
	pending int32
	head    *db.AlertOutboxHeadRow
}

func readOutbox(ctx context.Context, q *db.Queries) (outbox, error) {
	var ob outbox
	var err error
	if ob.pending, err = q.AlertOutboxPending(ctx); err != nil {
		return ob, fmt.Errorf("alerts: outbox: %w", err)
	}
	head, err := q.AlertOutboxHead(ctx)
	switch {
	case err == nil:
		ob.head = &head
	case !errors.Is(err, db.ErrNotFound):
		return ob, fmt.Errorf("alerts: outbox head: %w", err)
	}
	return ob, nil
}

func fillOutbox(d *pages.OpsAlertDelivery, ob outbox) {
	d.Pending = ob.pending
	if h := ob.head; h != nil {
		d.HeadAttempts, d.HeadError = h.Attempts, h.LastError
		d.HeadAt, d.HeadNext = &h.At, &h.NextAttemptAt
	}
}

// alertsBanner is GET /ops/alerts/banner, the /ops banner's poll.
func (a *App) alertsBanner(w http.ResponseWriter, r *http.Request) {
	a.render(w, r, http.StatusOK, partials.OpsAlertsBanner(a.alertsBannerView(r.Context())))
}

// bannerData is one reading of what fires, shared for a second however
// many admins watch /ops.
type bannerData struct {
	open   []db.OpenAlertsRow
	outbox outbox
}

func newBannerCache(ops *db.DB) *reading[bannerData] {
	return newOpsReading(func(ctx context.Context) (b bannerData, err error) {
		err = opsRead(ctx, ops, func(ctx context.Context, q *db.Queries) (err error) {
			if b.open, err = q.OpenAlerts(ctx, openAlertRows); err != nil {
				return err
			}
			b.outbox, err = readOutbox(ctx, q)
			return err
		})
		return b, err
	})
}

// alertsBannerView is the banner: what fires, and whether notifications
// are failing to get out.
func (a *App) alertsBannerView(ctx context.Context) partials.OpsAlertsBannerView {
	data, at, err := a.alerts.banner.get(ctx)
	v := partials.OpsAlertsBannerView{UpdatedAt: at}
	if err != nil {
		v.Error = a.opsError("alerts", err)
		return v
	}
	for _, o := range data.open {
		v.Firing = append(v.Firing, partials.OpsAlertBrief{Rule: o.Rule, Severity: o.Severity, Summary: o.Summary, Instance: o.Instance, Since: o.StartedAt})
	}
	var d pages.OpsAlertDelivery
	fillOutbox(&d, data.outbox)
	if d.Failing() && d.HeadAttempts >= 2 {
		v.DeliveryProblem = fmt.Sprintf("Alert notifications are not getting out: the webhook has failed %d times (%s); %d waiting.", d.HeadAttempts, d.HeadError, d.Pending)
	}
	return v
}

// webhookHost is the webhook's scheme and host, for the page: its path
// and query may hold a token.
func webhookHost(raw string) string {
	if raw == "" {
		return ""
	}
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return "(set, unreadable)"
	}
	return u.Scheme + "://" + u.Host + "/…"
}
