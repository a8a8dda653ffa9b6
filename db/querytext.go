package db

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// maxQueryText caps a stored statement text; the page shows the start.
const maxQueryText = 10000

// optimizable are the statements PostgreSQL plans, whose constants
// pg_stat_statements replaces with $1, $2... in the text it keeps. The
// others ("utility" statements: SET, ALTER ROLE, COPY, CALL...) are kept
// as they were typed, literals and all (ALTER ROLE x PASSWORD '...').
var optimizable = map[string]bool{
	"select": true, "insert": true, "update": true, "delete": true,
	"with": true, "values": true, "table": true, "merge": true,
}

// ScrubQuery returns a statement text from pg_stat_statements fit to store
// and show, never with a parameter's value in it:
//
//   - a planned statement (SELECT, INSERT, UPDATE, DELETE, WITH, VALUES,
//     TABLE, MERGE) keeps its normalised text, with any literal that is
//     still in it replaced by "?" (pg_stat_statements may keep a text
//     un-normalised when its entry was evicted between parsing and
//     execution);
//   - any other statement is shown by its first keywords only ("SET …",
//     "ALTER ROLE …"), because pg_stat_statements keeps those as typed.
//
// Comments, identifiers and $n placeholders are kept.
func ScrubQuery(q string) string {
	first, rest := leadingKeyword(q)
	if !optimizable[strings.ToLower(first)] {
		return utilityText(first, rest)
	}
	s := maskLiterals(q)
	if len(s) > maxQueryText {
		cut := maxQueryText
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		s = s[:cut] + "…"
	}
	return s
}

// leadingKeyword finds the first word of q after blanks, comments and
// opening parentheses, and what follows it.
func leadingKeyword(q string) (word, rest string) {
	i := skipNoise(q, 0)
	j := i
	for j < len(q) && isIdentByte(q[j]) {
		j++
	}
	return q[i:j], q[j:]
}

// skipNoise skips blanks, comments and opening parentheses from i.
func skipNoise(q string, i int) int {
	for i < len(q) {
		switch {
		case q[i] == ' ' || q[i] == '\t' || q[i] == '\n' || q[i] == '\r' || q[i] == '(':
			i++
		case strings.HasPrefix(q[i:], "--"):
			for i < len(q) && q[i] != '\n' {
				i++
			}
		case strings.HasPrefix(q[i:], "/*"):
			i = skipBlockComment(q, i)
		default:
			return i
		}
	}
	return i
}

// skipBlockComment returns the index after the (possibly nested) comment at i.
func skipBlockComment(q string, i int) int {
	depth := 0
	for i < len(q) {
		switch {
		case strings.HasPrefix(q[i:], "/*"):
			depth++
			i += 2
		case strings.HasPrefix(q[i:], "*/"):
			depth--
			i += 2
			if depth == 0 {
				return i
			}
		default:
			i++
		}
	}
	return i
}

// utilityText is a utility statement shown by its command words: up to two
// leading words made of letters only, upper-cased.
func utilityText(first, rest string) string {
	if first == "" {
		return "(statement text not shown)"
	}
	words := []string{strings.ToUpper(first)}
	f := strings.Fields(rest)
	if len(f) > 0 && isLetters(f[0]) && len(words) < 2 {
		words = append(words, strings.ToUpper(f[0]))
		f = f[1:]
	}
	s := strings.Join(words, " ")
	if len(f) > 0 {
		s += " …"
	}
	return s
}

func isLetters(s string) bool {
	for _, r := range s {
		if !unicode.IsLetter(r) {
			return false
		}
	}
	return s != ""
}

func isIdentByte(c byte) bool {
	return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c >= 0x80
}

// maskLiterals replaces string and number literals in q with "?", leaving
// identifiers, quoted identifiers, comments and $n placeholders alone.
func maskLiterals(q string) string {
	var b strings.Builder
	b.Grow(len(q))
	i := 0
	for i < len(q) {
		c := q[i]
		switch {
		case strings.HasPrefix(q[i:], "--"):
			j := strings.IndexByte(q[i:], '\n')
			if j < 0 {
				j = len(q) - i
			}
			b.WriteString(q[i : i+j])
			i += j
		case strings.HasPrefix(q[i:], "/*"):
			j := skipBlockComment(q, i)
			b.WriteString(q[i:j])
			i = j
		case c == '"':
			j := endQuoted(q, i, '"', false)
			b.WriteString(q[i:j])
			i = j
		case c == '\'':
			// A prefix letter (E'…', B'…', X'…', N'…', U&'…') belongs to the
			// literal: drop it from the output.
			escapes := false
			if p := prefixStart(q, i); p < i {
				escapes = strings.EqualFold(q[p:i], "e")
				trim := i - p
				s := b.String()
				b.Reset()
				b.WriteString(s[:len(s)-trim])
			}
			i = endQuoted(q, i, '\'', escapes)
			b.WriteByte('?')
		case c == '$' && i+1 < len(q) && q[i+1] >= '0' && q[i+1] <= '9':
			// A $n placeholder: kept.
			j := i + 1
			for j < len(q) && q[j] >= '0' && q[j] <= '9' {
				j++
			}
			b.WriteString(q[i:j])
			i = j
		case c == '$' && (i == 0 || !isIdentByte(q[i-1])):
			if tag, ok := dollarTag(q, i); ok {
				end := strings.Index(q[i+len(tag):], tag)
				if end < 0 {
					i = len(q)
				} else {
					i += len(tag) + end + len(tag)
				}
				b.WriteByte('?')
				continue
			}
			b.WriteByte(c)
			i++
		case c >= '0' && c <= '9' && (i == 0 || !isIdentByte(q[i-1]) && q[i-1] != '$'):
			j := i
			for j < len(q) && (q[j] >= '0' && q[j] <= '9' || q[j] == '.' || q[j] == '_' ||
				(q[j] == 'e' || q[j] == 'E') && j+1 < len(q) && (q[j+1] >= '0' && q[j+1] <= '9' || q[j+1] == '-' || q[j+1] == '+') ||
				(q[j] == '-' || q[j] == '+') && (q[j-1] == 'e' || q[j-1] == 'E') ||
				j == i+1 && (q[j] == 'x' || q[j] == 'X' || q[j] == 'o' || q[j] == 'O' || q[j] == 'b' || q[j] == 'B') && q[i] == '0' ||
				j > i+1 && (q[i+1] == 'x' || q[i+1] == 'X') && (q[j] >= 'a' && q[j] <= 'f' || q[j] >= 'A' && q[j] <= 'F')) {
				j++
			}
			b.WriteByte('?')
			i = j
		case c == '.' && i+1 < len(q) && q[i+1] >= '0' && q[i+1] <= '9' && (i == 0 || !isIdentByte(q[i-1])):
			j := i + 1
			for j < len(q) && q[j] >= '0' && q[j] <= '9' {
				j++
			}
			b.WriteByte('?')
			i = j
		default:
			b.WriteByte(c)
			i++
		}
	}
	return b.String()
}

// prefixStart is where a string literal's prefix (E, B, X, N or U&) starts,
// or i when the quote at i has none.
func prefixStart(q string, i int) int {
	p := i
	if p >= 2 && q[p-1] == '&' && (q[p-2] == 'u' || q[p-2] == 'U') {
		p -= 2
	} else if p >= 1 && strings.IndexByte("eEbBxXnN", q[p-1]) >= 0 {
		p--
	} else {
		return i
	}
	if p > 0 && isIdentByte(q[p-1]) {
		return i // the letter ends an identifier: WHERE name='x'
	}
	return p
}

// endQuoted returns the index after the quoted token opening at i; a
// doubled quote is an escaped quote, and with escapes a backslash escapes
// the next byte.
func endQuoted(q string, i int, quote byte, escapes bool) int {
	j := i + 1
	for j < len(q) {
		switch {
		case escapes && q[j] == '\\':
			j += 2
		case q[j] == quote:
			if j+1 < len(q) && q[j+1] == quote {
				j += 2
				continue
			}
			return j + 1
		default:
			j++
		}
	}
	return len(q)
}

// dollarTag returns the $tag$ opening a dollar-quoted string at i.
func dollarTag(q string, i int) (string, bool) {
	j := i + 1
	for j < len(q) && (isIdentByte(q[j]) && !(j == i+1 && q[j] >= '0' && q[j] <= '9')) {
		j++
	}
	if j < len(q) && q[j] == '$' {
		return q[i : j+1], true
	}
	return "", false
}
