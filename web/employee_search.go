package web

import (
	"slices"
	"strings"

	"hris/db"
)

const (
	// searchMaxWords is how many different words starting with the
	// search's word a page merges (each costs one index probe and up to a
	// page of entries). A word starting more words than this is one or two
	// letters long and common; its page walks the list instead.
	searchMaxWords = 32
	// searchCountUpTo is where the count of a one-word search stops
	// ("More than 1,000 employees match"): it is read from the index, up
	// to this many entries.
	searchCountUpTo = 1000
)

// employeeSearch is the text of the search box, prepared for the queries
// (see "Searching" in queries/employees.sql). An employee matches when each
// word of the search starts a word of their name or email and their
// "first last email" contains the whole search: "gar" finds Garcia and
// Gareth, "ada love" finds Ada Lovelace, "sato.7" finds
// ada.sato.7@example.com, but "rcia" finds nobody (it starts no word).
type employeeSearch struct {
	// Words are the search's words, longest first (at most
	// searchMaxTerms of them: the rest are checked by the phrase).
	Words []searchWord
	// Phrase is the search escaped for LIKE (the queries lowercase it).
	Phrase string
	// Bare says the search is one word alone: finding it is the match.
	Bare bool
}

// searchWord is one word of a search, as typed: the queries lowercase it
// as the index was lowercased.
type searchWord struct {
	Word string
	// Whole: followed by a separator in the search, so a match has it as a
	// whole word, not only as the start of one.
	Whole bool
}

// searchMaxTerms is how many of a search's words are looked up; a search
// of more words is checked for the others by its phrase.
const searchMaxTerms = 3

// newEmployeeSearch prepares q, or reports false when q has no word to
// search by (only punctuation, or only a number).
func newEmployeeSearch(q string) (employeeSearch, bool) {
	var s employeeSearch
	// Words are split as typed: separators are ASCII punctuation and
	// spaces, the same in any case.
	words := db.SplitWords(q)
	if len(words) == 0 {
		return s, false
	}
	seen := map[string]bool{}
	last := words[len(words)-1]
	for i, w := range words {
		if seen[w] {
			continue
		}
		seen[w] = true
		// Only the last word of the search may be the start of a longer
		// one, and only when nothing follows it.
		whole := i < len(words)-1 || !strings.HasSuffix(q, last)
		s.Words = append(s.Words, searchWord{Word: w, Whole: whole})
	}
	slices.SortStableFunc(s.Words, func(a, b searchWord) int { return len(b.Word) - len(a.Word) })
	if len(s.Words) > searchMaxTerms {
		s.Words = s.Words[:searchMaxTerms]
	}
	s.Phrase = likeEscape(q)
	s.Bare = len(words) == 1 && q == words[0]
	return s, true
}
