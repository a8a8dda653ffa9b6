package components

import (
	"strconv"
	"time"
)

// LeaveKinds are the kinds of leave in the order forms offer them.
var LeaveKinds = []Option{
	{Value: "annual", Label: "Annual leave"},
	{Value: "sick", Label: "Sick leave"},
	{Value: "unpaid", Label: "Unpaid leave"},
}

// LeaveStatuses are the statuses of a leave request, in the order filters
// offer them.
var LeaveStatuses = []Option{
	{Value: "pending", Label: "Pending"},
	{Value: "approved", Label: "Approved"},
	{Value: "rejected", Label: "Rejected"},
	{Value: "cancelled", Label: "Cancelled"},
}

// LeaveKindLabel is a kind of leave in words.
func LeaveKindLabel(kind string) string { return label(LeaveKinds, kind) }

// LeaveStatusLabel is a request status in words.
func LeaveStatusLabel(status string) string { return label(LeaveStatuses, status) }

func label(opts []Option, value string) string {
	for _, o := range opts {
		if o.Value == value {
			return o.Label
		}
	}
	return value
}

// Balance is an employee's annual leave in a year, as pages show it.
type Balance struct {
	EmployeeID int64
	Year       int
	Allowance  int32
	Taken      int32 // approved
	Pending    int32 // requested, not decided
	Adjusted   bool  // HR set the allowance; otherwise it is the default
	Version    int32 // of HR's allowance; 0 while the default applies
}

// Left is what may still be approved.
func (b Balance) Left() int32 { return b.Allowance - b.Taken }

// LeftAfterPending is what would be left if every pending request were approved.
func (b Balance) LeftAfterPending() int32 { return b.Allowance - b.Taken - b.Pending }

// barWidth is the balance bar's width in SVG units.
const barWidth = 100

// segments are the bar's pieces: taken, then pending (only as much as
// fits), each as x and width out of barWidth.
func (b Balance) segments() (takenW, pendingX, pendingW float64) {
	total := float64(max(b.Allowance, b.Taken+b.Pending, 1))
	takenW = float64(b.Taken) / total * barWidth
	pendingW = float64(b.Pending) / total * barWidth
	return takenW, takenW, pendingW
}

func (b Balance) takenWidth() string {
	w, _, _ := b.segments()
	return num(w)
}

func (b Balance) pendingX() string {
	_, x, _ := b.segments()
	return num(x)
}

func (b Balance) pendingWidth() string {
	_, _, w := b.segments()
	return num(w)
}

// summary says the bar in words, for screen readers and tooltips.
func (b Balance) summary() string {
	return strconv.Itoa(int(b.Taken)) + " of " + strconv.Itoa(int(b.Allowance)) + " days taken, " +
		strconv.Itoa(int(b.Pending)) + " pending, " + strconv.Itoa(int(b.Left())) + " left"
}

func days(n int32) string { return Count(int64(n), "day", "days") }

// Days is n days in words: "1 day", "3 days".
func Days(n int32) string { return days(n) }

func dateAttr(t time.Time) string { return t.Format(time.DateOnly) }

// periodText is a leave period in words: one day, or first – last.
func periodText(start, end time.Time) string {
	if start.Equal(end) {
		return start.Format("Mon 2 Jan 2006")
	}
	if start.Year() == end.Year() {
		return start.Format("Mon 2 Jan") + " – " + end.Format("Mon 2 Jan 2006")
	}
	return start.Format("Mon 2 Jan 2006") + " – " + end.Format("Mon 2 Jan 2006")
}
