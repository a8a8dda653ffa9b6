package web

import (
	"slices"
	"strings"
	"unicode/utf8"
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
	// Phrase is the search lowercased and escaped for LIKE.
	Phrase string
	// Bare says the search is one word alone: finding it is the match.
	Bare bool
}

// searchWord is one word of a search and the range of the index words
// that start with it: [Word, End).
type searchWord struct {
	Word, End string
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
	lower := strings.ToLower(q)
	var s employeeSearch
	words := searchWords(lower)
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
		whole := i < len(words)-1 || !strings.HasSuffix(lower, last)
		s.Words = append(s.Words, searchWord{Word: w, End: w + string(utf8.MaxRune), Whole: whole})
	}
	slices.SortStableFunc(s.Words, func(a, b searchWord) int { return len(b.Word) - len(a.Word) })
	if len(s.Words) > searchMaxTerms {
		s.Words = s.Words[:searchMaxTerms]
	}
	s.Phrase = likeEscape(lower)
	s.Bare = len(words) == 1 && lower == words[0]
	return s, true
}

// searchWords splits lowercased text into words exactly as the database
// function employee_search_words does: runs of ASCII letters and digits
// and of any characters beyond ASCII; pure numbers are left out.
func searchWords(s string) []string {
	words := strings.FieldsFunc(s, func(r rune) bool {
		return r < utf8.RuneSelf && !('0' <= r && r <= '9' || 'a' <= r && r <= 'z')
	})
	out := words[:0]
	for _, w := range words {
		if strings.Trim(w, "0123456789") != "" {
			out = append(out, w)
		}
	}
	return out
}
