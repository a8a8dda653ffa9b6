package web

import "time"

// Calendar says which days are working days, the days a leave request
// counts. Weekdays is the calendar in use; a holiday calendar is a
// Calendar that also takes out its holidays (Holidays), and the App takes
// whichever it is given.
type Calendar interface {
	IsWorkingDay(day time.Time) bool
}

// Weekdays counts Monday to Friday.
type Weekdays struct{}

// IsWorkingDay reports whether day is a Monday to Friday.
func (Weekdays) IsWorkingDay(day time.Time) bool {
	wd := day.Weekday()
	return wd != time.Saturday && wd != time.Sunday
}

// Holidays is a base calendar less a set of dates (public holidays, office
// closures), keyed YYYY-MM-DD.
type Holidays struct {
	Base  Calendar
	Dates map[string]bool
}

// IsWorkingDay reports whether day is a working day of the base calendar
// and not a holiday.
func (h Holidays) IsWorkingDay(day time.Time) bool {
	return h.Base.IsWorkingDay(day) && !h.Dates[day.Format(time.DateOnly)]
}

// WorkingDays counts the working days from start to end, both included (0
// when end is before start). Periods are at most a year long (a request
// stays inside one calendar year), so counting day by day is cheap and
// works for any calendar.
func WorkingDays(cal Calendar, start, end time.Time) int {
	start = time.Date(start.Year(), start.Month(), start.Day(), 0, 0, 0, 0, time.UTC)
	end = time.Date(end.Year(), end.Month(), end.Day(), 0, 0, 0, 0, time.UTC)
	n := 0
	for d := start; !d.After(end); d = d.AddDate(0, 0, 1) {
		if cal.IsWorkingDay(d) {
			n++
		}
	}
	return n
}
