// Package components holds small pieces shared by pages: labelled form
// fields with their error messages, empty states, badges.
package components

// Field describes one labelled form control. Error, when set, is shown
// under the control and linked to it for screen readers.
type Field struct {
	ID           string
	Name         string
	Label        string
	Type         string // text, email, date, password...; "" means text
	Value        string
	Error        string
	Hint         string
	Autocomplete string
	Placeholder  string
	Required     bool
	Options      []Option // for selects
}

// Option is one choice of a select.
type Option struct {
	Value string
	Label string
}

func (f Field) inputType() string {
	if f.Type == "" {
		return "text"
	}
	return f.Type
}

func (f Field) describedBy() string {
	switch {
	case f.Error != "" && f.Hint != "":
		return f.ID + "-error " + f.ID + "-hint"
	case f.Error != "":
		return f.ID + "-error"
	case f.Hint != "":
		return f.ID + "-hint"
	}
	return ""
}

// Errors maps form field names to what is wrong with them.
type Errors map[string]string

// Any reports whether at least one field has an error.
func (e Errors) Any() bool {
	for _, msg := range e {
		if msg != "" {
			return true
		}
	}
	return false
}
