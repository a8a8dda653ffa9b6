package pages

import (
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"hris/views/components"
	"hris/views/partials"
)

// OpsAlertsView is GET /ops/alerts: what fires now, how notifications get
// out, the rules and what fired lately.
type OpsAlertsView struct {
	UpdatedAt time.Time
	Error     string
	Banner    partials.OpsAlertsBannerView
	Firing    []OpsAlert
	Recent    []OpsAlert
	Rules     []OpsAlertRule
	Delivery  OpsAlertDelivery
	Interval  string // between evaluations, in words
	// Evaluator is the instance holding the alerts lease (it evaluates the
	// fleet rules and sends the notifications); "" when none holds it.
	Evaluator      string
	EvaluatorSince time.Time
	Self           string
}

// OpsAlert is one episode of a rule firing.
type OpsAlert struct {
	ID          int64
	Rule        string
	Severity    string
	Summary     string
	Instance    string
	Details     json.RawMessage
	StartedAt   time.Time
	FiredAt     time.Time
	ResolvedAt  *time.Time
	Transitions []OpsAlertTransition
}

// OpsAlertTransition is one firing or resolved message and its delivery.
type OpsAlertTransition struct {
	Status    string
	Severity  string
	At        time.Time
	Delivery  string // pending, sent, failed, unsent
	Attempts  int32
	LastError string
	SentAt    *time.Time
	SentBy    string
}

// OpsAlertRule is one rule with its thresholds.
type OpsAlertRule struct {
	Name     string
	Watches  string
	Warning  string
	Critical string
	For      string // in words
	Fleet    bool
	Firing   string // the severity it fires at now, or ""
}

// OpsAlertDelivery is how notifications get out.
type OpsAlertDelivery struct {
	// Webhook is the receiver's scheme and host only (its path may hold a
	// token); "" when HRIS_ALERT_WEBHOOK_URL is not set.
	Webhook      string
	Pending      int32
	HeadAttempts int32
	HeadAt       *time.Time
	HeadNext     *time.Time
	HeadError    string
	Last         *OpsAlertAttempt
}

// OpsAlertAttempt is the latest attempt to send a message.
type OpsAlertAttempt struct {
	At       time.Time
	Rule     string
	Status   string
	Delivery string
	Attempts int32
	Error    string
	SentBy   string
}

// FailingWords says how the oldest waiting message has fared.
func (d OpsAlertDelivery) FailingWords() string {
	s := "Deliveries are failing: the oldest message waiting"
	if d.HeadAt != nil {
		s += " (from " + partials.Clock(*d.HeadAt) + ")"
	}
	s += fmt.Sprintf(" has been tried %d %s; last error: %s.", d.HeadAttempts, plural(int(d.HeadAttempts), "time", "times"), d.HeadError)
	if d.HeadNext != nil {
		s += " Next try at " + partials.Clock(*d.HeadNext) + "."
	}
	return s + fmt.Sprintf(" %d waiting in all.", d.Pending)
}

// Lede is the page's introduction: the interval and who evaluates.
func (v OpsAlertsView) Lede() string {
	s := "Rules checked every " + v.Interval + "; each firing and each resolution is sent once to the webhook. "
	switch {
	case v.Evaluator == "":
		return s + "No instance evaluates the fleet rules at the moment."
	case v.Evaluator == v.Self:
		return s + "The fleet rules are evaluated by " + v.Evaluator + " (this instance) since " + partials.Clock(v.EvaluatorSince) + "."
	}
	return s + "The fleet rules are evaluated by " + v.Evaluator + " since " + partials.Clock(v.EvaluatorSince) + "."
}

// When is where and when an episode happened, in a line.
func (a OpsAlert) When(now time.Time) string {
	s := "on " + a.Instance + " · since " + partials.Clock(a.StartedAt) + " (" + a.Duration(now) + ")"
	if a.ResolvedAt != nil {
		s += " · resolved " + partials.Clock(*a.ResolvedAt)
	}
	return s
}

// Failing reports whether the head of the queue has failed already.
func (d OpsAlertDelivery) Failing() bool {
	return d.Pending > 0 && d.HeadAttempts > 0 && d.HeadError != ""
}

// Duration is how long an episode lasted, or has lasted until now.
func (a OpsAlert) Duration(now time.Time) string {
	end := now
	if a.ResolvedAt != nil {
		end = *a.ResolvedAt
	}
	return partials.Seconds(end.Sub(a.StartedAt).Seconds())
}

// DetailRow is one fact of an alert's details, for display.
type DetailRow struct {
	Key, Value string
}

// hiddenDetails are details the page leaves out: thresholds are on the
// rules table, the evaluator in the instance column.
var hiddenDetails = map[string]bool{
	"threshold_seconds": true, "critical_seconds": true, "warning_percent": true, "critical_percent": true,
	"warning_bytes": true, "warning_seconds": true, "warning": true, "critical": true,
	"stale_after_seconds": true, "window_seconds": true,
}

// Rows lists an alert's details as key and value, keys sorted.
func (a OpsAlert) Rows() []DetailRow {
	var m map[string]any
	if err := json.Unmarshal(a.Details, &m); err != nil {
		return nil
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		if !hiddenDetails[k] {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	rows := make([]DetailRow, 0, len(keys))
	for _, k := range keys {
		v := detailValue(m[k])
		if f, ok := m[k].(float64); ok && strings.HasSuffix(k, "pid") {
			v = strconv.FormatInt(int64(f), 10) // an id, not a quantity
		}
		if v == "" {
			continue
		}
		rows = append(rows, DetailRow{Key: strings.ReplaceAll(k, "_", " "), Value: v})
	}
	return rows
}

func detailValue(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case bool:
		if x {
			return "yes"
		}
		return "no"
	case float64:
		if x == float64(int64(x)) {
			return components.Thousands(int64(x))
		}
		return strconv.FormatFloat(x, 'f', 1, 64)
	case []any:
		return fmt.Sprintf("%d more", len(x))
	}
	b, _ := json.Marshal(v)
	return string(b)
}

// deliveryClass is the badge class of a transition's delivery.
func deliveryClass(d string) string {
	switch d {
	case "sent":
		return "badge ok"
	case "failed":
		return "badge bad"
	case "pending":
		return "badge warn"
	}
	return "badge muted"
}

// deliveryWords says what happened to a transition's message.
func deliveryWords(t OpsAlertTransition) string {
	switch t.Delivery {
	case "sent":
		s := "sent"
		if t.SentAt != nil {
			s += " " + partials.Clock(*t.SentAt)
		}
		if t.Attempts > 1 {
			s += fmt.Sprintf(" (attempt %d)", t.Attempts)
		}
		return s
	case "pending":
		if t.Attempts == 0 {
			return "waiting to be sent"
		}
		return fmt.Sprintf("retrying (%d attempts)", t.Attempts)
	case "failed":
		return "not delivered"
	}
	return "not sent: no webhook"
}

func evaluatedWords(r OpsAlertRule) string {
	if r.Fleet {
		return "lease holder"
	}
	return "each instance"
}
