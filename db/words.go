package db

import (
	"slices"
	"strings"
	"unicode/utf8"
)

// SplitWords splits text into the words of the search index, in order:
// runs of ASCII letters and digits and of any characters beyond ASCII
// (everything else separates them); pure numbers are left out. It is the
// splitting of the database function employee_search_words (migration
// 00006) in Go, for the words of a search and the seed's bulk load;
// TestWordsAgree keeps the two the same. Case is left alone: the database
// lowercases, with its own lower(), the index's words and the search's
// alike.
func SplitWords(text string) []string {
	words := strings.FieldsFunc(text, func(r rune) bool {
		return r < utf8.RuneSelf && !('0' <= r && r <= '9' || 'a' <= r && r <= 'z' || 'A' <= r && r <= 'Z')
	})
	out := words[:0]
	for _, w := range words {
		if strings.Trim(w, "0123456789") != "" {
			out = append(out, w)
		}
	}
	return out
}

// EmployeeWords is what employee_search_words stores for an employee: the
// distinct words of "first last email", sorted. It lowercases with Go's
// Unicode rules, which equal the database's lower() for ASCII and for
// text already in lowercase (the demo data); the seed relies on that.
func EmployeeWords(firstName, lastName, email string) []string {
	w := SplitWords(strings.ToLower(firstName + " " + lastName + " " + email))
	slices.Sort(w)
	return slices.Compact(w)
}
