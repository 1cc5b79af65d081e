// Package clip shortens text to a field's limit without splitting a
// character, counting characters (runes) as PocketBase's text fields do.
package clip

// Runes returns s cut to at most n characters.
func Runes(s string, n int) string {
	if len(s) <= n { // bytes bound characters
		return s
	}
	count := 0
	for i := range s {
		if count == n {
			return s[:i]
		}
		count++
	}
	return s
}
