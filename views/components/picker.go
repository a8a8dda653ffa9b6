package components

import (
	"strconv"

	"github.com/a-h/templ"
)

// Picker is a field that chooses an employee by name: a search box (NAME_q)
// and the choices as radio buttons named NAME whose values are employee
// ids. With htmx the choices follow the typing (SearchURL answers with
// PickerChoices); without JavaScript the form is sent with the typed name
// and the server takes the one match, or shows the matches to choose from.
type Picker struct {
	Name      string // the form field of the chosen id: manager_id, employee_id
	Label     string
	Query     string // what was typed into the search box
	Chosen    *PickerChoice
	Choices   []PickerChoice // matches of the search, Chosen left out
	More      bool           // there are more matches than Choices
	Searched  bool           // Choices are the result of a search
	NoneLabel string         // when set, an empty choice with this label ("No manager")
	Note      string         // about the search, under the choices
	Hint      string
	Error     string
	Required  bool
	SearchURL string // GET endpoint for the choices, with the field's own parameters
	// ChoicesAttrs go on the element around the choices: a filter form
	// reloads its results when a choice changes.
	ChoicesAttrs templ.Attributes
}

// PickerChoice is one employee to choose.
type PickerChoice struct {
	ID     int64
	Name   string
	Detail string // job title, department: tells two people of one name apart
	Status string
}

func (c PickerChoice) value() string { return strconv.FormatInt(c.ID, 10) }

func (p Picker) queryName() string { return p.Name + "_q" }

func (p Picker) choicesID() string { return p.Name + "-choices" }

func (p Picker) describedBy() string {
	return Field{ID: p.Name, Hint: p.Hint, Error: p.Error}.describedBy()
}

// noneChecked: the empty choice is the current one.
func (p Picker) noneChecked() bool { return p.Chosen == nil }
