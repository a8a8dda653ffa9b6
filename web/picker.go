package web

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"unicode/utf8"

	"hris/db"
	"hris/views/components"
	"hris/views/pages"
)

const (
	// pickerMaxChoices is how many matches the employee picker offers at
	// once; more means the name typed is too short to choose from.
	pickerMaxChoices = 8
	// pickerMinLetters is the shortest name the picker searches for: fewer
	// letters match too many people to choose from.
	pickerMinLetters = 2
)

// tooShortToSearch reports text that is neither an employee number nor
// long enough to search names for.
func tooShortToSearch(text string) bool {
	if id, ok := parseOptionalID(text); ok && id != nil {
		return false
	}
	return utf8.RuneCountInString(strings.TrimSpace(text)) < pickerMinLetters
}

const tooShortMessage = "Type at least 2 letters of the name, or the employee number."

// pickerSpec is one picker field of the app's forms.
type pickerSpec struct {
	Label             string
	NoneLabel         string // offers "nobody" as a choice
	IncludeTerminated bool   // terminated employees are offered too
	Required          bool
}

// pickerFields are the picker fields, by form field name.
var pickerFields = map[string]pickerSpec{
	// A manager is someone still here; "nobody" is a valid answer.
	"manager_id": {Label: "Manager", NoneLabel: "No manager"},
	// Leave may be recorded for someone who has left since.
	"employee_id": {Label: "Employee", IncludeTerminated: true, Required: true},
}

// picker is the empty picker of field: search URL and labels, no choice.
// exclude (0 for none) is left out of the matches: the employee being
// edited, who cannot be their own manager.
func picker(field string, exclude int64) components.Picker {
	spec := pickerFields[field]
	u := "/employees/picker?field=" + field
	if exclude != 0 {
		u += "&exclude=" + strconv.FormatInt(exclude, 10)
	}
	return components.Picker{Name: field, Label: spec.Label, NoneLabel: spec.NoneLabel, Required: spec.Required, SearchURL: u}
}

func toPickerChoice(id int64, first, last, jobTitle, department, status string) components.PickerChoice {
	var detail []string
	for _, s := range []string{jobTitle, department} {
		if s != "" {
			detail = append(detail, s)
		}
	}
	return components.PickerChoice{ID: id, Name: first + " " + last, Detail: strings.Join(detail, " · "), Status: status}
}

// pickedChoice loads employee id as a choice; nil when there is no such
// employee (deleted since the form was opened, or a made-up number).
func pickedChoice(ctx context.Context, q *db.Queries, id int64) (*components.PickerChoice, error) {
	e, err := q.PickedEmployee(ctx, id)
	if errors.Is(err, db.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	c := toPickerChoice(e.ID, e.FirstName, e.LastName, e.JobTitle, e.DepartmentName, e.Status)
	return &c, nil
}

// pickMatches finds what was typed into a picker: an employee number
// ("42" or "#42") finds that employee, anything else the employees it
// finds as the list's search does (words of the name or email that start
// with what was typed), by name. more reports matches beyond the
// ones returned.
func pickMatches(ctx context.Context, q *db.Queries, spec pickerSpec, text string, exclude int64) (matches []components.PickerChoice, more bool, err error) {
	if id, ok := parseOptionalID(text); ok && id != nil {
		c, err := pickedChoice(ctx, q, *id)
		if c == nil || err != nil {
			return nil, false, err
		}
		return []components.PickerChoice{*c}, false, nil
	}
	text = strings.Join(strings.Fields(text), " ") // "Ada  Lovelace" is "Ada Lovelace"
	if utf8.RuneCountInString(text) > maxSearchLength {
		text = string([]rune(text)[:maxSearchLength])
	}
	search, ok := newEmployeeSearch(text)
	if !ok {
		return nil, false, nil
	}
	// The list's search (employee_words), in name order, for a few rows.
	p := employeePage{f: employeeFilter{Sort: "name"}, exclude: exclude, hideTerminated: !spec.IncludeTerminated,
		limit: pickerMaxChoices + 1}
	rows, _, err := p.search(ctx, q, search, nil)
	if err != nil {
		return nil, false, err
	}
	if len(rows) > pickerMaxChoices {
		rows, more = rows[:pickerMaxChoices], true
	}
	for _, e := range rows {
		matches = append(matches, toPickerChoice(e.ID, e.FirstName, e.LastName, e.JobTitle, e.DepartmentName, e.Status))
	}
	return matches, more, nil
}

// pickTyped resolves text typed into a picker field of a posted form to
// one employee: the only match, or the one whose whole name it is. When
// it names nobody or several people, id is nil and the picker p is set up
// to say so and offer the matches (its search box emptied, so that sending
// the form again takes the radio button chosen).
func (a *App) pickTyped(ctx context.Context, p *components.Picker, text string, exclude int64) (id *int64, msg string, err error) {
	if tooShortToSearch(text) {
		p.Query = text
		return nil, tooShortMessage, nil
	}
	var matches []components.PickerChoice
	var more bool
	err = a.readPlanned(ctx, func(ctx context.Context, q *db.Queries) (err error) {
		matches, more, err = pickMatches(ctx, q, pickerFields[p.Name], text, exclude)
		return err
	})
	if err != nil {
		return nil, "", err
	}
	if len(matches) > 1 {
		var exact []components.PickerChoice
		for _, m := range matches {
			if strings.EqualFold(m.Name, strings.Join(strings.Fields(text), " ")) {
				exact = append(exact, m)
			}
		}
		if len(exact) == 1 {
			matches, more = exact, false
		}
	}
	switch {
	case len(matches) == 1 && !more:
		p.Query = ""
		return &matches[0].ID, "", nil
	case len(matches) == 0:
		p.Query = text
		return nil, "Nobody matches “" + text + "”. Check the spelling, or type the employee number.", nil
	default:
		p.Query, p.Choices, p.More, p.Searched = "", matches, more, true
		return nil, "Several people match “" + text + "”: choose one below.", nil
	}
}

// employeePicker answers the picker's search box with the choices for
// what was typed (GET /employees/picker?field=F&F_q=text&F=chosen).
func (a *App) employeePicker(w http.ResponseWriter, r *http.Request) {
	query := r.URL.Query()
	field := query.Get("field")
	spec, ok := pickerFields[field]
	if !ok {
		a.notFound(w, r)
		return
	}
	var exclude int64
	if id, ok := parseOptionalID(query.Get("exclude")); ok && id != nil {
		exclude = *id
	}
	p := picker(field, exclude)
	p.Query = strings.TrimSpace(query.Get(field + "_q"))
	chosen, _ := parseOptionalID(query.Get(field))
	err := a.readPlanned(r.Context(), func(ctx context.Context, q *db.Queries) (err error) {
		p.Chosen, p.Choices, p.More, p.Searched = nil, nil, false, false
		if chosen != nil {
			if p.Chosen, err = pickedChoice(ctx, q, *chosen); err != nil {
				return err
			}
		}
		if p.Query == "" {
			return nil
		}
		if tooShortToSearch(p.Query) {
			p.Note = tooShortMessage
			return nil
		}
		matches, more, err := pickMatches(ctx, q, spec, p.Query, exclude)
		if err != nil {
			return err
		}
		p.Searched, p.More, p.Choices = true, more, withoutChosen(matches, p.Chosen)
		return nil
	})
	if err != nil {
		a.handleError(w, r, err)
		return
	}
	a.render(w, r, http.StatusOK, components.PickerChoices(p))
}

// pickManager takes a name typed into the employee form's manager picker
// in place of the radio button chosen: with JavaScript, choosing a match
// empties the search box; without it, the form arrives with the name.
func (a *App) pickManager(r *http.Request, f *pages.EmployeeForm, v *employeeValues) error {
	text := strings.TrimSpace(r.PostFormValue("manager_id_q"))
	if text == "" {
		return nil
	}
	f.Manager = picker("manager_id", f.ID)
	id, msg, err := a.pickTyped(r.Context(), &f.Manager, text, f.ID)
	if err != nil {
		return err
	}
	if id == nil {
		f.Errors["manager_id"] = msg
		return nil
	}
	v.ManagerID, f.ManagerID = id, strconv.FormatInt(*id, 10)
	delete(f.Errors, "manager_id") // the radio's value no longer counts
	return nil
}

// employeeManagerPicker completes the employee form's manager picker for
// display: its labels, its search URL, and the name of the current choice.
func (a *App) employeeManagerPicker(ctx context.Context, f *pages.EmployeeForm) error {
	p := picker("manager_id", f.ID)
	p.Query, p.Choices, p.More, p.Searched = f.Manager.Query, f.Manager.Choices, f.Manager.More, f.Manager.Searched
	id, ok := parseOptionalID(f.ManagerID)
	if ok && id != nil {
		err := a.db.Read(ctx, func(ctx context.Context, q *db.Queries) (err error) {
			p.Chosen, err = pickedChoice(ctx, q, *id)
			return err
		})
		if err != nil {
			return err
		}
	}
	if p.Chosen == nil && f.ManagerID != "" && p.Query == "" {
		// Not a number, or one that names nobody: shown as sent, next to
		// its message.
		p.Query = f.ManagerID
	}
	p.Choices = withoutChosen(p.Choices, p.Chosen)
	f.Manager = p
	return nil
}

// withoutChosen leaves the current choice out of the matches: it is shown
// first, checked.
func withoutChosen(matches []components.PickerChoice, chosen *components.PickerChoice) []components.PickerChoice {
	if chosen == nil {
		return matches
	}
	out := matches[:0:0]
	for _, m := range matches {
		if m.ID != chosen.ID {
			out = append(out, m)
		}
	}
	return out
}
